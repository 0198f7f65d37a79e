"""Argo CD REST client: connection from ARGOCD_SERVER / ARGOCD_AUTH_TOKEN, typed Applications, sync and status."""
