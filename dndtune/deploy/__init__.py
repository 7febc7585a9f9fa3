"""Deployment: GGUF and Cactus-engine bundles, atomic install into an app, the integration suite."""

from dndtune.deploy.bundle import DeployOptions, DeployResult, deploy
from dndtune.deploy.integration import IntegrationReport, run_suite
from dndtune.deploy.manifest import BUNDLE_MANIFEST, BundleManifest

__all__ = ["BUNDLE_MANIFEST", "BundleManifest", "DeployOptions", "DeployResult", "IntegrationReport", "deploy",
           "run_suite"]
