"""Stage verification: Argo Rollouts AnalysisTemplates run as an AnalysisRun (templates, args, metrics, providers)."""
