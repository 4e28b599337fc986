"""KYC service: identity documents, the screening rules and the reviewers' workflow (審査)."""
