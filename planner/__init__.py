"""meshplan: decide whether a service mesh fits a cluster and plan the move to Istio STRICT mTLS."""

__version__ = "0.1.0"
