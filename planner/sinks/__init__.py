"""Writers: turn domain results into bytes (JSON, YAML, Markdown, HTML, GitOps folders)."""
