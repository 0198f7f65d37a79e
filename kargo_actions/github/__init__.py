"""GitHub through PyGithub: pull requests, statuses, deployments, workflows, environments, rulesets, API commits."""
