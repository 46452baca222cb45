"""Plan findings (MP3xx): what blocks a step beyond the manifests, from observed traffic."""
