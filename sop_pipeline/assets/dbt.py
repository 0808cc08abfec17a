"""The dbt project (staging, intermediate, marts) as Dagster assets, wired once here.

Asset keys and groups come from the dbt folder (fqn), not from model names:
`models/staging/x.sql` -> key `staging/x`, group `staging`;
`models/marts/<area>/x.sql` -> key `marts/x`, group `<area>`.
Sources map to the Python assets that write them through `meta.dagster.asset_key` in YAML.
"""

import os
import shutil
import sys
from pathlib import Path
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from sop_pipeline.assets.common import OWNERS
from sop_pipeline.resources import WAREHOUSE_POOL, SopSettings
from sop_pipeline.settings import DBT_PROJECT_DIR

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
dbt_project.prepare_if_dev()

class SopDbtTranslator(DagsterDbtTranslator):
    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return super().get_asset_key(dbt_resource_props)
        return dg.AssetKey([self._folders(dbt_resource_props)[0], dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        folders = self._folders(dbt_resource_props)
        if folders[0] == "marts" and len(folders) > 1:
            return folders[1]
        return folders[0]

    def get_owners(self, dbt_resource_props: Mapping[str, Any]):
        return OWNERS.get(self.get_group_name(dbt_resource_props) or "", OWNERS["staging"])

    @staticmethod
    def _folders(props: Mapping[str, Any]) -> list[str]:
        # fqn = [project, folder, (subfolder...), model]
        fqn = props.get("fqn") or ["sop", "models", props["name"]]
        return list(fqn[1:-1]) or ["models"]

@dbt_assets(manifest=dbt_project.manifest_path, project=dbt_project,
            dagster_dbt_translator=SopDbtTranslator(), pool=WAREHOUSE_POOL)
def sop_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, settings: SopSettings):
    """dbt build (models + tests) for the selected models, against the cycle's warehouse."""
    os.environ.update(settings.settings.to_env())  # profiles.yml reads SOP_WAREHOUSE_PATH
    # cautious: a test with several parents (relationships) runs only in the step that builds all
    # of them; Dagster splits dbt into several steps around the Python assets.
    yield from dbt.cli(["build", "--indirect-selection", "cautious"], context=context).stream()

def dbt_executable() -> str:
    """dbt of this interpreter's environment (the venv), so no PATH setup is needed; else PATH."""
    for folder in (Path(sys.prefix) / "bin", Path(sys.executable).parent):
        if (folder / "dbt").exists():
            return str(folder / "dbt")
    return shutil.which("dbt") or "dbt"


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable())

ASSETS = [sop_dbt_models]
