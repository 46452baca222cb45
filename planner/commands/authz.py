"""``planner authz``: least-privilege ALLOW AuthorizationPolicies from the call graph and the
observed traffic, dry run by default."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from planner.commands.common import (
    exit_if_invalid,
    handle_errors,
    input_options,
    output_option,
    run_analysis,
    traffic_options,
)
from planner.commands.plan import dataplane_option, min_confidence_option, root_namespace_option

if TYPE_CHECKING:
    from planner.service import InputSpec, TrafficSource


@click.command()
@input_options
@traffic_options
@output_option("yaml", "json", default="yaml")
@min_confidence_option()
@dataplane_option("the plan")
@click.option("--enforce", is_flag=True,
              help='Print the enforcing policies (default: dry run, istio.io/dry-run: "true").')
@click.option("--trust-domain", default="cluster.local", show_default=True, metavar="DOMAIN",
              help="The mesh's trust domain, the first part of every principal.")
@root_namespace_option()
@click.option("--cluster-domain", default="cluster.local", show_default=True, metavar="DOMAIN",
              help="DNS suffix of the cluster (svc.DOMAIN names resolve to Services).")
@click.option("--out", "out_dir", default=None, metavar="DIR",
              help="Also write a GitOps folder: policies/<namespace>/, prerequisites/ "
                   "(per-workload ServiceAccounts and patches) and authz.json.")
@click.option("--force", is_flag=True, help="Replace a non-empty --out directory.")
@handle_errors
def authz(spec: InputSpec, traffic: TrafficSource | None, output: str, min_confidence: float,
          dataplane: str, enforce: bool, trust_domain: str, root_namespace: str,
          cluster_domain: str, out_dir: str | None, force: bool) -> None:
    """Propose one ALLOW AuthorizationPolicy per called workload, naming the principals of
    the callers the call graph and observed traffic show, and the ports they use.

    Callers no principal can name are listed with what to do, and service accounts shared by
    several workloads with the per-workload ServiceAccounts that would tell them apart
    (docs/authz.md).

    \b
    Examples:
      planner authz -f sample_clusters/shop -R
      planner authz -f sample_clusters/shop -R --traffic flows.json -o json
      planner authz -f sample_clusters/shop -R --enforce --out authz/ --force
    """
    from planner.service import authorization, observe
    from planner.sinks.authz import authz_json, authz_yaml

    analysis = run_analysis(spec, root_namespace=root_namespace, cluster_domain=cluster_domain,
                            min_confidence=min_confidence)
    if traffic is not None:
        analysis = observe(analysis, traffic)
    proposal = authorization(analysis, dataplane=dataplane, enforce=enforce,
                             trust_domain=trust_domain)
    if out_dir is not None:
        from planner.sinks.authz import write_authz

        path = write_authz(proposal, out_dir, force=force)
        click.echo(f"planner: wrote {len(proposal.policies)} policies to {path}", err=True)
    sys.stdout.write(authz_json(proposal) if output == "json" else authz_yaml(proposal))
    exit_if_invalid(analysis.scan)
