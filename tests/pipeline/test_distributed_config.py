"""The documented multi-machine setup (deploy/dagster.kubernetes.yaml) is valid for the pinned Dagster."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from dagster._config import validate_config
from dagster._core.instance.config import dagster_instance_config
from dagster_k8s import K8sRunLauncher

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "dagster.kubernetes.yaml"


@pytest.fixture
def config() -> dict:
    return yaml.safe_load(K8S.read_text("utf-8"))


def test_the_instance_file_passes_dagsters_own_schema(tmp_path: Path, monkeypatch) -> None:
    for var in ["USERNAME", "PASSWORD", "HOST", "DB", "PORT"]:
        monkeypatch.setenv(f"DAGSTER_PG_{var}", "x" if var != "PORT" else "5432")
    shutil.copy(K8S, tmp_path / "dagster.yaml")
    checked, _ = dagster_instance_config(str(tmp_path))
    assert checked["run_launcher"]["class"] == "K8sRunLauncher"
    assert checked["run_queue"]["max_concurrent_runs"] == 1


def test_the_run_launcher_config_passes_the_k8s_launchers_schema(config: dict) -> None:
    result = validate_config(K8sRunLauncher.config_type(), config["run_launcher"]["config"])
    assert result.success, [e.message for e in result.errors or []]
    broken = dict(config["run_launcher"]["config"], job_namspace="typo")
    assert not validate_config(K8sRunLauncher.config_type(), broken).success


def test_it_keeps_the_single_machine_guarantees(config: dict) -> None:
    single = yaml.safe_load((ROOT / "deploy" / "dagster.postgres.yaml").read_text("utf-8"))
    assert config["storage"] == single["storage"]  # one storage definition, documented once
    assert config["telemetry"] == {"enabled": False}
    assert config["compute_logs"]["class"] == "NoOpComputeLogManager"
    launcher = config["run_launcher"]["config"]
    env = dict(item.split("=", 1) for item in launcher["env_vars"])
    assert env["OROSTAT_KEY_FILE"].startswith("/run/secrets/") and "OROSTAT_KEY" not in env
    mounts = {m["name"]: m for m in launcher["volume_mounts"]}
    assert mounts["orostat-key"]["read_only"] and mounts["orostat-archive-key"]["read_only"]
    assert config["storage"]["postgres"]["postgres_db"]["password"] == {"env": "DAGSTER_PG_PASSWORD"}
