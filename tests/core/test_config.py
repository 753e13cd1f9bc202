"""demo.yaml: defaults, durations, overrides, and one clear line per mistake."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tubedemo.core.config import DemoConfig, config_from_dict, load_config
from tubedemo.core.durations import format_duration, parse_duration
from tubedemo.core.errors import ConfigError
from tubedemo.manifests.init_file import default_demo_yaml


def test_defaults_describe_the_original_talk() -> None:
    cfg = DemoConfig()
    # Requests in flight (waiting + running) over a target per replica (README: the sweep).
    # requests in flight while a collector's heartbeat reaches the scaler, else the fallback
    assert cfg.scaling.scaling_formula == "queue + running"
    assert cfg.scaling.reactive_formula == "collectors > 0 ? queue + running : 16"
    assert cfg.scaling.effective_formula == cfg.scaling.reactive_formula
    assert cfg.scaling.triggers == {
        "queue": "vllm_num_requests_waiting",
        "running": "vllm_num_requests_running",
    }
    assert (cfg.scaling.min_replicas, cfg.scaling.max_replicas) == (1, 10)
    assert cfg.gpu_pool.instance_types == ["g5.2xlarge", "g5.4xlarge", "g5.12xlarge"]
    # The original's load profile: warm-up 5 VUs, burst 20 -> 50, steady 30, cooldown 5.
    load = [(p.name, p.at, p.end, p.vus) for p in cfg.timeline.phases[:4]]
    assert load == [
        ("warm-up", 0, 120, 5),
        ("burst", 120, 240, [20, 50]),
        ("steady", 240, 600, 30),
        ("cooldown", 600, 720, 5),
    ]
    assert [p.name for p in cfg.timeline.phases][-1] == "survey"
    assert cfg.timeline.phases[-1].mode == "survey" and cfg.timeline.phases[-1].at == 28 * 60


def test_every_field_is_documented() -> None:
    undocumented = []

    def walk(model: type, prefix: str) -> None:
        for name, field in model.model_fields.items():  # type: ignore[attr-defined]
            if not (field.description or "").strip():
                undocumented.append(prefix + name)
            ann = field.annotation
            if isinstance(ann, type) and hasattr(ann, "model_fields"):
                walk(ann, f"{prefix}{name}.")

    walk(DemoConfig, "")
    assert undocumented == []


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("2m", 120), ("1h30m", 5400), ("250ms", 0.25), (45, 45), ("2m30s", 150)],
)
def test_durations_read_like_people_write_them(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


def test_durations_print_back_in_the_same_form() -> None:
    assert format_duration(1800) == "30m"
    assert format_duration(5400) == "1h30m"
    assert format_duration(0.5) == "0.5s"


@pytest.mark.parametrize("bad", ["abc", "5 parsecs", "-3", "", True])
def test_a_bad_duration_is_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {"scaling": {"multipler": 3}},
            "scaling.multipler: unknown field; did you mean 'multiplier'?",
        ),
        (
            {"scaling": {"min_replicas": 5, "max_replicas": 2}},
            "min_replicas (5) exceeds max_replicas (2)",
        ),
        ({"talk": {"duration": "abc"}}, "talk.duration: 'abc' is not a duration"),
        (
            {"model": {"max_model_len": 100}},
            "model.max_model_len: Input should be greater than or equal to 512",
        ),
        ({"profile": "gke"}, "profile: Input should be 'eks' or 'local'"),
        ({"scaling": {"max_replicas": 20}}, "needs more GPUs than gpu_pool.gpu_limit (10)"),
        (
            {"timeline": {"phases": [{"name": "a", "at": "0m", "duration": "40m", "vus": 2}]}},
            "phase 'a' ends at 40m, after the talk ends at 30m",
        ),
        (
            {"timeline": {"phases": [{"name": "a", "at": 0, "duration": 60, "vus": 2, "rate": 1}]}},
            "timeline.phases.0: set either vus or rate, not both",
        ),
        (
            {
                "timeline": {
                    "phases": [
                        {"name": "a", "at": "0m", "duration": "5m", "vus": 2},
                        {"name": "b", "at": "4m", "duration": "1m", "vus": 2},
                    ]
                }
            },
            "phase 'b' starts at 4m before 'a' ends at 5m",
        ),
        ({"gatway": {}}, "gatway: unknown field; did you mean 'gateway'?"),
        (
            {
                "scaling": {
                    "scale_up": {
                        "stabilization": 0,
                        "policies": [{"type": "Pods", "value": 1, "period": "2h"}],
                    }
                }
            },
            "period: Value error, must be between 1s and 30m",
        ),
        (
            {"cluster": {"vpc_cidr": "10.0.0.0/33"}},
            "cluster.vpc_cidr: Value error, '10.0.0.0/33' is not a CIDR range",
        ),
        (
            {"gateway": {"trusted_proxies": ["10.0.0.0/16", "lb.example.com"]}},
            "gateway.trusted_proxies: Value error, 'lb.example.com' is not a CIDR range",
        ),
    ],
)
def test_each_config_mistake_gets_one_line_naming_field_and_fix(raw: dict, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_dict(raw)
    message = caught.value.message
    assert "\n" not in message
    assert expected.replace("Value error, ", "") in message
    assert caught.value.exit_code == 2


def test_missing_explicit_file_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="tubedemo init"):
        load_config(tmp_path / "nope.yaml")


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text("scaling:\n  target: [1,\n")
    with pytest.raises(ConfigError, match=r"demo.yaml line \d+: not valid YAML"):
        load_config(path)


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(path)


def test_set_overrides_apply_before_validation(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text("scaling:\n  multiplier: 20\n")
    cfg = load_config(path, ["scaling.multiplier=10", "talk.title=Hello"])
    assert cfg.scaling.multiplier == 10
    assert cfg.talk.title == "Hello"
    with pytest.raises(ConfigError, match=r"section\.field=value"):
        load_config(path, ["scaling.multiplier"])


def test_a_set_mistake_names_the_set_not_demo_yaml(tmp_path: Path) -> None:
    # The presenter looks where the line points: a wrong --set is on the command line.
    path = tmp_path / "demo.yaml"
    path.write_text("scaling:\n  multiplier: 20\n")
    with pytest.raises(ConfigError) as wrong_value:
        load_config(path, ["scaling.target=abc"])
    assert wrong_value.value.message.startswith("--set scaling.target: Input should be")
    with pytest.raises(ConfigError) as typo:
        load_config(path, ["scaling.targt=3"])
    assert typo.value.message == "--set scaling.targt: unknown field; did you mean 'target'?"
    with pytest.raises(ConfigError) as unknown_section:
        load_config(path, ["nosuch.x=1"])
    assert unknown_section.value.message.startswith("--set nosuch.x: nosuch: unknown field")
    with pytest.raises(ConfigError) as inside:  # a whole section given as YAML
        load_config(path, ["scaling={target: abc}"])
    assert inside.value.message.startswith("--set scaling: scaling.target: Input should be")
    # ... and the file's own mistake still names the file, whatever else --set changes
    path.write_text("scaling:\n  target: abc\n")
    with pytest.raises(ConfigError) as in_file:
        load_config(path, ["scaling.multiplier=10"])
    assert in_file.value.message.startswith(f"{path}: scaling.target: Input should be")


@pytest.mark.parametrize("account", ["123456789012", "012345678901", "012345670123"])
def test_an_account_id_is_a_string_from_set_and_from_demo_yaml_quoted_or_not(
    tmp_path: Path, account: str
) -> None:
    # README step 9: `--set cluster.account_id=$ACCOUNT` (YAML reads the digits as a number);
    # 012345670123 is octal to YAML 1.1, so it must not become another number either
    path = tmp_path / "demo.yaml"
    path.write_text("talk:\n  duration: 30m\n")
    assert load_config(path, [f"cluster.account_id={account}"]).cluster.account_id == account
    for written in (account, f"'{account}'"):
        path.write_text(f"cluster:\n  account_id: {written}\n")
        assert load_config(path).cluster.account_id == account


@pytest.mark.parametrize("bad", ["12345", "1234567890123", "abc"])
def test_an_account_id_that_is_not_12_digits_is_one_clear_line(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text("{}\n")
    with pytest.raises(ConfigError, match=r"cluster\.account_id: String should match"):
        load_config(path, [f"cluster.account_id={bad}"])


def test_init_file_is_the_default_config_with_comments() -> None:
    text = default_demo_yaml()
    assert config_from_dict(yaml.safe_load(text)) == DemoConfig()
    assert "# Virtual commuters per waiting request" in text


@pytest.mark.parametrize("profile", ["eks", "local"])
def test_init_file_comments_say_null_where_yaml_needs_it(profile: str) -> None:
    # `None` in demo.yaml is the text "None" to YAML: a presenter copying a comment's word
    # into a field would set a string. The comments use YAML's own word.
    comments = [ln for ln in default_demo_yaml(profile).splitlines() if ln.lstrip().startswith("#")]
    assert not [ln for ln in comments if re.search(r"\bNone\b", ln)]
    assert any("null: the load balancer address" in ln for ln in comments)
