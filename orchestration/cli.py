"""`tessera`: the user's handle on the pipeline (ARCHITECTURE.md §10).

Every command that prints results takes --json; failures exit non-zero with one line.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import shutil
import sys
import time
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tessera.orchestration.books import STAGES, latest_checks, stage_status  # light: no lake or Dagster import

DEMO_QUERY = "a rocket on the launch pad"


class CliError(Exception):
    """A user-facing failure: printed as one line, exit code 1."""


# -- helpers -----------------------------------------------------------------------------------
def _defs():
    """The Definitions the UI loads, plus the command line's progress logger."""
    from dagster import colored_console_logger

    from tessera.orchestration.definitions import build_definitions
    from tessera.orchestration.progress import stage_progress

    return build_definitions(loggers={"console": colored_console_logger, "progress": stage_progress})


def _lake():
    from tessera.resources.lake import LakeResource

    return LakeResource()


def _search(query: str, **options: Any) -> list[dict[str, Any]]:
    """Through a running `tessera serve` when TESSERA_SERVE_URL names one (TESSERA_TOKEN: its API
    token); in this process when none is set or it does not answer."""
    url = os.environ.get("TESSERA_SERVE_URL")
    if url:
        try:
            return _served_search(url.rstrip("/"), query, **options)
        except ConnectionError as exc:
            print(f"note: {url} did not answer ({exc}); searching in this process", file=sys.stderr)
    from tessera.resources.params import load_params
    from tessera.resources.search import QueryModels, SearchParams, search
    from tessera.resources.store import Lake

    params = load_params()
    media = [(m, path) for m in ("image", "audio") if (path := options.pop(m, None)) is not None]
    vectors = None
    if media:
        from tessera.resources.models import ModelsResource

        modality, path = media[0]
        encoder = (models := ModelsResource.from_params(params).load((modality,))).encoder(modality)
        if encoder is None:
            raise CliError(f"no {modality} encoder here ({models.why(modality)}); search with text")
        vectors = {modality: encoder.encode([Path(path).read_bytes()])[0]}
    return search(Lake(), QueryModels.from_params(params), query, params=SearchParams.from_params(params), vectors=vectors, **options)


def _served_search(url: str, query: str, **options: Any) -> list[dict[str, Any]]:
    import base64

    body = {k: v for k, v in options.items() if v is not None and k not in ("image", "audio")}
    for m in ("image", "audio"):
        if options.get(m) is not None:
            body[m] = base64.b64encode(Path(options[m]).read_bytes()).decode()
    if query and not body.get("like"):
        body["query"] = query
    return _served(url, "POST", "/api/search", body, "search")["hits"]


def _served(url: str, method: str, path: str, body: dict[str, Any] | None, what: str) -> dict[str, Any]:
    """One call to a running `tessera serve` with TESSERA_TOKEN. ConnectionError: nobody answered
    (the caller falls back to this process); the server's refusal is final (CliError)."""
    import urllib.error
    import urllib.request

    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {os.environ.get('TESSERA_TOKEN', '')}"}
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{url}{path}", data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:  # the server answered: its word stands, no fallback
        try:
            said = json.loads(exc.read()).get("error", "")
        except ValueError:
            said = ""
        raise CliError(f"{url} refused the {what} ({exc.code}): {said or exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ConnectionError(str(getattr(exc, "reason", exc))) from None


def _emit(args: argparse.Namespace, payload: Any, text: str) -> None:
    print(json.dumps(payload, indent=2, default=str) if args.json else text)


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[str(c) for c in headers], *[[str(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    fmt = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()  # noqa: E731
    return "\n".join([fmt(cells[0]), fmt(["-" * w for w in widths]), *(fmt(r) for r in cells[1:])])


# -- commands ----------------------------------------------------------------------------------
def cmd_ingest(args: argparse.Namespace) -> int:
    payload = ingest(args.path, args.batch, args.manifest)
    _emit(args, payload, f"registered batch {payload['batch']} ← {payload['uri']} ({payload['files']} files)")
    return 0


def ingest(path: str, batch: str | None = None, manifest: str | None = None) -> dict[str, Any]:
    from tessera.orchestration.instance import get_instance
    from tessera.orchestration.sensors import batch_name
    from tessera.resources.lake import check_batch_name

    if path.startswith("s3://"):
        return _ingest_s3(path.rstrip("/"), batch, manifest)
    root = Path(path).expanduser()
    if not root.is_dir():
        raise CliError(f"{path}: not a directory; point at the folder that holds the drop")
    if manifest and not Path(manifest).is_file():
        raise CliError(f"{path}: manifest {manifest} not found")
    try:
        name = check_batch_name(batch) if batch else batch_name(f"{root.resolve().name}-{datetime.now(UTC):%Y%m%d%H%M%S}")
    except ValueError as exc:
        raise CliError(str(exc)) from None
    _lake().register_batch(name, str(root.resolve()), str(Path(manifest).resolve()) if manifest else None)
    get_instance().add_dynamic_partitions("batch", [name])
    files = sum(1 for p in root.rglob("*") if p.is_file() or p.is_symlink())
    record_batches()
    return {"batch": name, "uri": str(root.resolve()), "manifest": manifest, "files": files}


def _ingest_s3(uri: str, batch: str | None, manifest: str | None) -> dict[str, Any]:
    """A drop under an S3 prefix (the lake's AWS_* credentials and endpoint): listed once, here, so
    a wrong prefix or missing credentials fail now in one line, not at `raw`. Its manifest is an
    s3:// object (inside the prefix or not)."""
    from tessera.orchestration.instance import get_instance
    from tessera.orchestration.sensors import batch_name
    from tessera.resources.lake import check_batch_name
    from tessera.resources.landing import open_landing

    if manifest and not manifest.startswith("s3://"):
        raise CliError(f"{uri}: a drop on S3 takes its manifest from S3 too (--manifest s3://bucket/key)")
    try:
        files = len(open_landing(uri).list())
        name = check_batch_name(batch) if batch else batch_name(f"{uri.rsplit('/', 1)[-1]}-{datetime.now(UTC):%Y%m%d%H%M%S}")
    except (FileNotFoundError, ValueError) as exc:
        raise CliError(str(exc).splitlines()[0]) from None
    _lake().register_batch(name, uri, manifest)
    get_instance().add_dynamic_partitions("batch", [name])
    return {"batch": name, "uri": uri, "manifest": manifest, "files": files}


BATCHES_FILE = Path("batches.json")


def dvc_project() -> bool:
    """Whether this folder is a DVC project whose lake is the one in use (dvc.yaml here, and
    TESSERA_HOME inside this folder, as dvc.yaml sets it): only then do ingest, delete-batch and
    release keep DVC's files up to date."""
    from tessera.resources.home import tessera_home

    return Path("dvc.yaml").is_file() and tessera_home().is_relative_to(Path.cwd().resolve())


def record_batches() -> None:
    """In a DVC project (dvc.yaml here), `batches.json`: every registered batch with a digest of its
    drop (each file's path, size and modification time), the `raw` stage's data dependency — so
    `dvc status` sees a new batch, or a drop whose files changed, and nothing else. Only for the
    project's own lake (TESSERA_HOME inside this folder, as dvc.yaml sets it)."""
    if not dvc_project():
        return
    listed = []
    for b in _lake().batches():
        root, h, n = Path(b["uri"]), hashlib.sha256(), 0
        for f in sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []:
            st = f.stat()
            h.update(f"{f.relative_to(root).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
            n += 1
        listed.append({"batch": b["batch"], "uri": b["uri"], "manifest": b["manifest"], "files": n, "digest": h.hexdigest()})
    BATCHES_FILE.write_text(json.dumps(listed, indent=2, sort_keys=True) + "\n")


def cmd_materialize(args: argparse.Namespace) -> int:
    if args.engine:  # the engine resource reads it (resources/engine.py): same assets, other workers
        os.environ["TESSERA_ENGINE"] = args.engine
    lake = _lake()
    batches = [b["batch"] for b in lake.batches()] if args.all else [args.batch]
    if not batches or batches == [None]:
        raise CliError("name a batch with --batch NAME or pass --all (see `tessera status`)")
    stages = [args.stage] if args.stage else list(STAGES[: STAGES.index(args.through) + 1])
    results = [materialize(b, stages, quiet=args.json, force=args.force) for b in batches]
    # content whose holder let it go passed to another batch: at raw, that batch is re-run from
    # cleaned; a near-copy's hold at unified (resources/near_index.py), from unified
    after_raw = [s for s in stages if s != "raw"]
    handed = sorted({h for r in results for h in r.get("handoffs", {})} - set(batches)) if "raw" in stages and after_raw else []
    from_unified = [s for s in stages if STAGES.index(s) >= STAGES.index("unified")]
    near = sorted({h for r in results for h in r.get("near_handoffs", {})} - set(batches) - set(handed)) if "unified" in stages else []
    results += [materialize(b, after_raw, quiet=args.json, force=True) for b in handed]  # their upstream rows changed under them
    results += [materialize(b, from_unified, quiet=args.json, force=True) for b in near]
    if args.report:  # what dvc.yaml tracks per stage: counts and the tables' content digests, no run ids or timings
        from tessera.resources.lake import STAGE_TABLES
        from tessera.resources.releases import RUN_BOUND, table_digest

        stable = [{"batch": r["batch"], "success": r["success"], "stages": [_stable(s) for s in r["stages"] if s["stage"] in stages]} for r in results]
        tables = {s: table_digest(lake, STAGE_TABLES[s], int(lake.dataset(STAGE_TABLES[s]).version), RUN_BOUND) for s in stages if lake.dataset(STAGE_TABLES[s]) is not None}
        Path(args.report).parent.mkdir(parents=True, exist_ok=True)
        Path(args.report).write_text(json.dumps({"batches": stable, "tables": tables}, indent=2, sort_keys=True) + "\n")
    _emit(args, results, "\n\n".join(_summary_text(r) for r in results))
    return 0 if all(r["success"] for r in results) else 1


def _stable(stage: dict[str, Any]) -> dict[str, Any]:
    """A stage's books without what changes from run to run of the same content (its table's version)."""
    return {k: v for k, v in stage.items() if k != "lake_version"}


def materialize(batch: str, stages: list[str] | tuple[str, ...] = STAGES, quiet: bool = False, force: bool = False) -> dict[str, Any]:
    """Run `stages` for `batch` through Dagster on the instance (visible in the UI). A stage whose
    inputs, code, params and decisions are unchanged since its last run for the batch is skipped
    (resources/freshness.py) unless `force`."""
    from dagster import AssetCheckSeverity, AssetKey

    from tessera.orchestration.instance import get_instance
    from tessera.resources.freshness import FORCE_TAG

    instance = get_instance()
    try:
        _lake().batch_info(batch)
    except KeyError as exc:
        raise CliError(str(exc.args[0])) from None
    if batch not in instance.get_dynamic_partitions("batch"):
        instance.add_dynamic_partitions("batch", [batch])
    job = _defs().resolve_job_def("pipeline")
    started = time.perf_counter()
    if not quiet:
        print(f"materializing {', '.join(stages)} for batch {batch} …", file=sys.stderr)
    verbose = logging.getLogger().level <= logging.INFO
    loggers = {"console": {"config": {"log_level": "DEBUG"}}} if verbose else {"progress": {}}
    if quiet:
        loggers = {"console": {"config": {"log_level": "CRITICAL"}}}
    reap_dead_runs(instance)
    result = job.execute_in_process(
        partition_key=batch,
        instance=instance,
        asset_selection=[AssetKey(s) for s in stages],
        run_config={"loggers": loggers},
        raise_on_error=False,
        tags={**run_owner_tags(), **({FORCE_TAG: "true"} if force else {})},
    )
    failed = [e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    handoffs: dict[str, int] = {}
    for mat in result.asset_materializations_for_node("raw") if "raw" in stages else []:
        handoffs.update(mat.metadata["handoffs"].value if "handoffs" in mat.metadata else {})
    near_handoffs: dict[str, int] = {}
    for mat in result.asset_materializations_for_node("unified") if "unified" in stages else []:
        near_handoffs.update(mat.metadata["near_handoffs"].value if "near_handoffs" in mat.metadata else {})
    skipped = [s for s in stages if any("skipped" in m.metadata for m in result.asset_materializations_for_node(s))]
    evaluations = [e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    checks = {f"{c.asset_key.path[-1]}:{c.check_name}": c.passed for c in evaluations}
    warned = [f"{c.asset_key.path[-1]}:{c.check_name}" for c in evaluations if not c.passed and c.severity == AssetCheckSeverity.WARN]
    return {
        "batch": batch,
        "run_id": result.run_id,
        "success": bool(result.success),
        "failed_steps": failed,
        "checks_passed": checks,
        "checks_warned": warned,  # failed, but only at WARN severity: reported, never blocking
        "handoffs": handoffs,
        "near_handoffs": near_handoffs,  # batches that now hold a near-copy this run let go (re-run from unified)
        "skipped": skipped,  # unchanged since their last run for the batch: not done again
        "seconds": round(time.perf_counter() - started, 2),
        "stages": stage_status(batch)["stages"],
    }


def cmd_delete_batch(args: argparse.Namespace) -> int:
    out = delete_batch(args.batch)
    handed = ", ".join(f"{b} ({n} samples)" for b, n in out["handed_to"].items())
    text = f"deleted batch {args.batch} from every stage table" + (f"; what it held passed to {handed}, re-run there" if handed else "")
    _emit(args, out, text)
    return 0 if all(r["success"] for r in out["reruns"]) else 1


def delete_batch(batch: str) -> dict[str, Any]:
    """Remove a batch from every stage table and from Dagster's partitions. Content it held passes
    (in raw's commit) to the earliest-registered batch that also carries it, and each receiving
    batch is re-run from `cleaned` through the stages it had reached, so that content lands again."""
    from tessera.orchestration.instance import get_instance
    from tessera.resources.lake import STAGE_TABLES
    from tessera.resources.ledger import release_batch
    from tessera.resources.near_index import near_ops
    from tessera.resources.near_index import release as release_near
    from tessera.resources.params import load_params

    lake = _lake()
    try:
        lake.batch_info(batch)
    except KeyError as exc:
        raise CliError(str(exc.args[0])) from None
    handoffs: dict[str, list[str]] = {}

    def on_raw() -> None:
        handoffs.update(release_batch(lake, batch).handoffs)

    lake.delete_batch(batch, on_raw)
    record_batches()
    near = release_near(lake, batch, near_ops(load_params())).handoffs  # near-copies it held pass on too (resources/near_index.py)
    instance = get_instance()
    if batch in instance.get_dynamic_partitions("batch"):
        instance.delete_dynamic_partition("batch", batch)
    reruns = []
    for receiver in sorted(set(handoffs) | set(near)):
        reached = [s for s in STAGES[1:] if (t := lake.open(STAGE_TABLES[s])) is not None and t.count_rows(f"batch = '{receiver}'")]
        start = "cleaned" if receiver in handoffs else "unified"
        reruns.append(materialize(receiver, [s for s in reached if STAGES.index(s) >= STAGES.index(start)] or [start], quiet=True, force=True))
    handed = {b: len(set(handoffs.get(b, [])) | set(near.get(b, []))) for b in sorted(set(handoffs) | set(near))}
    return {"batch": batch, "handed_to": handed, "reruns": reruns}


def run_owner_tags() -> dict[str, str]:
    """Which process runs an in-process run, so a later command can tell it died."""
    import socket

    return {"tessera/host": socket.gethostname(), "tessera/pid": str(os.getpid())}


def reap_dead_runs(instance: Any) -> list[str]:
    """Runs this machine started in-process whose process is gone (killed): marked failed, and
    their pool slots given back — else the `gpu` pool stays taken and every later run waits
    forever. (With the daemon, Dagster's run monitoring does this for queued runs.)"""
    import socket

    from dagster import DagsterRunStatus, RunsFilter

    reaped = []
    host = socket.gethostname()
    for run in instance.get_runs(filters=RunsFilter(statuses=[DagsterRunStatus.STARTED, DagsterRunStatus.STARTING])):
        pid = run.tags.get("tessera/pid")
        if run.tags.get("tessera/host") != host or not pid or _alive(int(pid)):
            continue
        instance.report_run_failed(run, f"its process ({pid}) is gone: killed before it finished")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        reaped.append(run.run_id)
    return reaped


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _metrics_text(r: dict[str, Any]) -> str:
    """Medians per stage (p10–p90 in --json): what a curator checks first."""
    from tessera.expectations.distributions import MAIN_METRICS, number

    stages = [s for s in r["stages"] if s.get("metrics")]
    names = [m for m in MAIN_METRICS if any(m in s["metrics"] for s in stages)]
    if not names:
        return ""
    rows = [[s["stage"], *(number(s["metrics"][m]["median"]) if m in s["metrics"] else "" for m in names), s["metrics"]["flagged"]] for s in stages]
    return "\nmedians of the landed rows\n" + _table(["stage", *names, "flagged"], rows)


def _summary_text(r: dict[str, Any]) -> str:
    rows = [
        [
            s["stage"], s["in"], s["landed"], s["variants"] or "", s["quarantined"],
            " ".join(f"{k}:{v}" for k, v in s["checks"].items()), s["lake_version"],
            ", ".join(f"{k}×{v}" for k, v in s["by_reason"].items()),
        ]
        for s in r["stages"]
    ]  # fmt: skip
    head = f"batch {r['batch']}" + (f"  run {r['run_id'][:8]}  {'ok' if r['success'] else 'FAILED ' + ','.join(r['failed_steps'])}" if "run_id" in r else "")
    if r.get("skipped"):
        head += f"  ({', '.join(r['skipped'])}: unchanged since the last run, skipped; --force does it again)"
    return head + "\n" + _table(["stage", "in", "landed", "variants", "quarantined", "checks", "version", "reasons"], rows) + _metrics_text(r)


def cmd_status(args: argparse.Namespace) -> int:
    """Through a running `tessera serve` when TESSERA_SERVE_URL names one (warm: no imports to pay),
    else in this process."""
    payload = None
    if url := os.environ.get("TESSERA_SERVE_URL"):
        query = {k: v for k, v in (("batch", args.batch), ("release", args.release)) if v}
        try:
            payload = _served(url.rstrip("/"), "GET", "/api/status?" + urllib.parse.urlencode(query), None, "status")["batches"]
        except ConnectionError as exc:
            print(f"note: {url} did not answer ({exc}); reading the books in this process", file=sys.stderr)
    if payload is None:
        from tessera.orchestration.books import books
        from tessera.resources.store import Lake

        try:
            payload = books(Lake(), args.batch, args.release)
        except KeyError as exc:
            raise CliError(str(exc.args[0])) from None
    if not payload:
        raise CliError("no batch is registered yet; run `tessera ingest PATH` or `tessera demo`")
    _emit(args, payload, "\n\n".join(_summary_text(p) for p in payload))
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    if sum(bool(x) for x in (args.query, args.like, args.image, args.audio)) != 1:
        raise CliError("give one query: a text, --like SAMPLE_ID, --image FILE or --audio FILE")
    try:
        hits = _search(args.query, k=args.k, modality=args.modality, like=args.like, variants=args.variants, release=args.release,
                       image=args.image, audio=args.audio)  # fmt: skip
    except KeyError as exc:
        raise CliError(str(exc.args[0])) from None
    text = _table(
        ["score", "sample_id", "modalities", "text"],
        [[f"{h['score']:.3f}", h["sample_id"][:16], "+".join(h["modalities"]), (h["text"] or h["transcript"] or "")[:60]] for h in hits],
    )
    _emit(args, hits, text if hits else "no match")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from tessera.api import Tessera
    from tessera.resources.params import load_params
    from tessera.serve import serve

    params = load_params()
    section = params.get("serve") or {}
    handle = Tessera.open()
    watch = None
    if args.watch:
        from tessera.orchestration.sensors import landing_settings

        root, marker = landing_settings()
        if not root:
            raise CliError("--watch needs a landing root: set TESSERA_LANDING_ROOT or landing.root in params.yaml")
        watch = (root, marker, float((params.get("landing") or {}).get("stream_interval_s", 0.5)))
    where = f"http://{'[' + args.host + ']' if ':' in args.host else args.host}:{args.port}"
    print(f"search API on {where} (lake {handle.uri}){f'; landing {watch[0]} watched' if watch else ''}; Ctrl-C stops it", file=sys.stderr)
    try:
        serve(handle, _steward_folder(), host=args.host, port=args.port, allowed_hosts=args.allowed_host,
              max_body_bytes=int(section.get("max_body_bytes", 16 << 20)), refresh_s=float(section.get("refresh_s", 1.0)), watch=watch)  # fmt: skip
    except ValueError as exc:
        raise CliError(str(exc)) from None
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from tessera.orchestration.demo import EXPECTED_QUARANTINE, build_demo_corpus
    from tessera.resources.home import tessera_home

    landing = build_demo_corpus(tessera_home() / "demo" / "landing")
    ingest(str(landing), "demo")
    result = materialize("demo", STAGES, quiet=args.json)
    q = {json.loads(r["source"])[0]: r["reason"] for r in _lake().quarantine_rows("demo")}
    broken = {name: q.get(name, "—") for name in EXPECTED_QUARANTINE}
    hits = []
    if result["success"]:
        hits = _search(DEMO_QUERY, k=3)
    paired = _time_paired("demo")
    payload = {**result, "broken_files": broken, "time_paired": paired, "search": {"query": DEMO_QUERY, "hits": hits}}
    lines = [
        _summary_text(result),
        "",
        "broken on purpose → quarantine reason:",
        *(f"  {name:<24} {reason}" for name, reason in broken.items()),
        "",
        "paired by their clocks (no manifest row, no shared stem):",
        *(f"  {' + '.join(p['files'])}   {p['how']}" for p in paired),
        "",
        f'tessera search "{DEMO_QUERY}":',
        *(f"  {h['score']:.3f}  {h['sample_id'][:16]}  {'+'.join(h['modalities']):<12} {(h['text'] or h['source'])[:60]}" for h in hits),
        "",
        "next: `tessera ui` opens the Dagster UI on this instance; `tessera status --batch demo` shows the books.",
    ]
    _emit(args, payload, "\n".join(lines))
    return 0 if result["success"] else 1


def _time_paired(batch: str) -> list[dict[str, Any]]:
    """The batch's landed samples whose files raw paired by overlapping capture times."""
    from tessera.core.discover import split_source

    ds = _lake().dataset("samples")
    if ds is None:
        return []
    rows = ds.to_table(columns=["source", "flags"], filter=f"batch = '{batch}' AND status = 'landed' AND parent_id IS NULL").to_pylist()
    return [
        {"files": split_source(r["source"]), "how": flag.removeprefix("raw.pair:time(").removesuffix(")")}
        for r in rows
        for flag in r["flags"] or []
        if flag.startswith("raw.pair:time(")
    ]


UI_STOP_S = 10.0  # Ctrl-C: how long `tessera ui` waits for Dagster's shutdown before it stops it


def cmd_ui(args: argparse.Namespace) -> int:
    import signal
    import subprocess

    from tessera.orchestration.instance import dagster_home
    from tessera.resources.home import tessera_home

    dagster_home()
    os.environ["TESSERA_HOME"] = str(tessera_home())  # the UI runs from the repo: pin the same lake
    repo = Path(__file__).resolve().parent.parent
    cmd = [str(Path(sys.executable).parent / "dagster"), "dev", "-w", str(repo / "workspace.yaml"), "-h", args.host, "-p", str(args.port)]
    print(f"Dagster UI on http://{args.host}:{args.port} (DAGSTER_HOME={os.environ['DAGSTER_HOME']}); Ctrl-C stops it", file=sys.stderr)
    # its own process group, so that what `dagster dev` starts (webserver, daemon, code servers)
    # can be stopped together when it is slow to stop them itself
    proc = subprocess.Popen(cmd, cwd=repo, start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))

    def stop(signum: int, frame: object) -> None:  # Ctrl-C, a closed terminal or a service stop: one orderly shutdown
        raise KeyboardInterrupt

    # SIGINT too: a process started in the background by a shell inherits it ignored
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        return _stop_ui(proc)


def _stop_ui(proc: Any) -> int:
    """`dagster dev`'s own orderly shutdown first; past UI_STOP_S, SIGTERM to every process it
    started, then SIGKILL; asked to stop again meanwhile: SIGKILL at once."""
    import signal
    import subprocess

    def signal_all(sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)

    proc.send_signal(signal.SIGINT)
    try:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                return int(proc.wait(timeout=UI_STOP_S))
            except subprocess.TimeoutExpired:
                print(f"the Dagster UI did not stop within {UI_STOP_S:g} s: sending {sig.name} to its processes", file=sys.stderr)
                signal_all(sig)
    except KeyboardInterrupt:
        signal_all(signal.SIGKILL)
    code = int(proc.wait())
    signal_all(signal.SIGKILL)  # nothing it started outlives it
    return code


def cmd_release(args: argparse.Namespace) -> int:
    words = args.words
    if words[0] == "diff":
        if len(words) != 3:
            raise CliError("usage: tessera release diff A B (two release names; `tessera releases` lists them)")
        out = release_diff(words[1], words[2])
        _emit(args, out, _diff_text(out))
        return 0
    if len(words) != 1:
        raise CliError("usage: tessera release NAME [--note TEXT], or tessera release diff A B")
    out = release(words[0], args.note or "", force=args.force)
    counts = out["counts"].get("embedded", {}).get("status", {})
    text = (f"release {out['name']}: {len(out['versions'])} tables tagged; samples {counts.get('landed', 0)} landed, "
            f"digest {out['digests']['samples']['digest'][:16]}; manifest in {out['path']}")  # fmt: skip
    _emit(args, out, text)
    return 0


def release(name: str, note: str = "", force: bool = False) -> dict[str, Any]:
    """Cut release `name` of the lake (resources/releases.py): a tag on every table and a manifest
    with the GX results of every batch's stages, the golden set's retrieval recall and the
    `dvc.lock` hash; written to the `releases` table and `releases/NAME.json`, and reported to
    Dagster as a materialization of the `release` asset. Refused (unless `force`) when retrieval
    fell below the last release's figure minus `release.retrieval_margin`."""
    from dagster import AssetMaterialization, MetadataValue

    from tessera.orchestration.instance import get_instance
    from tessera.resources.home import releases_dir
    from tessera.resources.models import ModelsResource
    from tessera.resources.params import load_params
    from tessera.resources.releases import check_name, cut, latest
    from tessera.resources.retrieval import gate, recall

    lake = _lake()
    check_name(name)
    params = load_params()
    retrieval = recall(ModelsResource.from_params(params).load(("text", "image")))
    why = gate(retrieval, latest(lake), float((params.get("release") or {}).get("retrieval_margin", 0.05)))
    if why and not force:
        raise CliError(f"release {name} refused: {why}")
    gx = {b["batch"]: {stage: latest_checks(stage, b["batch"]) for stage in STAGES} for b in lake.batches()}
    try:
        manifest = cut(lake, name, note=note, extra={"gx": gx, "retrieval": {**retrieval, **({"forced_past": why} if why else {})}})
    except (KeyError, ValueError) as exc:
        raise CliError(str(exc.args[0])) from None
    manifest["dvc"] = dvc_release(name)
    path = releases_dir() / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    get_instance().report_runless_asset_event(
        AssetMaterialization(
            asset_key="release", description=note or None, tags={"tessera/release": name},
            metadata={"release": name, "versions": MetadataValue.json(manifest["versions"]), "samples_digest": manifest["digests"]["samples"]["digest"],
                      "samples": manifest["digests"]["samples"]["rows"], "models": MetadataValue.json(manifest["models"]), "manifest": MetadataValue.path(str(path))},
        )
    )  # fmt: skip
    return {**manifest, "path": str(path)}


def dvc_release(name: str) -> dict[str, Any] | None:
    """In this lake's DVC project (`dvc_project`, and the `dvc` command on PATH): record the lake as it is
    now — tags and manifest included — in dvc.lock (`dvc commit`) and push it to the default remote,
    so that a git commit of dvc.lock and releases/NAME.json, then `dvc pull`, restores this release.
    None outside a DVC project. A failed push is one line naming what to run."""
    import subprocess

    dvc = shutil.which("dvc")
    if not dvc_project() or dvc is None:
        return None
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    for step in (["commit", "-f", "-q"], ["push", "-q"]):
        proc = subprocess.run([dvc, *step], capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            why = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:] or ["no output"]
            raise CliError(f"release {name} is cut (tagged, manifest written) but `dvc {step[0]}` failed: {why[0]}; fix it and run `dvc {step[0]}`")
    lock = Path("dvc.lock")
    return {"dvc_lock_sha256": hashlib.sha256(lock.read_bytes()).hexdigest() if lock.is_file() else None, "pushed": True}


def cmd_releases(args: argparse.Namespace) -> int:
    from tessera.resources.releases import listed

    rows = [{"name": r["name"], "created_at": str(r["created_at"])[:19], "note": r["note"], "samples": r["manifest"]["digests"]["samples"]["rows"],
             "digest": r["manifest"]["digests"]["samples"]["digest"]} for r in listed(_lake())]  # fmt: skip
    text = _table(["name", "cut at (UTC)", "samples", "digest", "note"], [[r["name"], r["created_at"], r["samples"], r["digest"][:16], r["note"] or ""] for r in rows])
    _emit(args, rows, text if rows else "no release yet; cut one with `tessera release NAME`")
    return 0


def release_diff(a: str, b: str) -> dict[str, Any]:
    from tessera.resources.releases import diff

    try:
        return diff(_lake(), a, b)
    except KeyError as exc:
        raise CliError(str(exc.args[0])) from None


def _diff_text(d: dict[str, Any]) -> str:
    lines = [f"{d['from']} → {d['to']}: {d['added']['count']} samples added, {d['removed']['count']} removed, {d['changed']['count']} changed"]
    lines += [f"  - {r['sample_id'][:12]} removed: {r['why']}" for r in d["removed"]["samples"][:20]]
    lines += [f"  + {sid[:12]} added" for sid in d["added"]["ids"][:20]]
    lines += [f"  ~ {sid[:12]} changed" for sid in d["changed"]["ids"][:20]]
    moved = {k: v for k, v in d["counts"].items() if ".status." in k or ".reason." in k}
    lines += [f"  {k}: {v['from']} → {v['to']}" for k, v in moved.items()]
    lines += [f"  {k}: {v['from']} → {v['to']}" for k, v in d["distributions"].items() if k.endswith(".median")]
    lines += [f"  model {c}: {v['from']} → {v['to']}" for c, v in d["models"].items()]
    return "\n".join(lines)


def _release_versions(release: str | None) -> dict[str, int] | None:
    from tessera.resources.releases import manifest

    if not release:
        return None
    try:
        return {t: int(v) for t, v in manifest(_lake(), release)["versions"].items()}
    except KeyError as exc:
        raise CliError(str(exc.args[0])) from None


def cmd_lineage(args: argparse.Namespace) -> int:
    from tessera.resources.lineage import story, story_text

    try:
        out = story(_lake(), args.sample_id, _release_versions(args.release))
    except KeyError as exc:
        raise CliError(str(exc.args[0])) from None
    _emit(args, out, story_text(out))
    return 0


def cmd_why_missing(args: argparse.Namespace) -> int:
    from tessera.resources.lineage import why_missing

    out = why_missing(_lake(), args.what, args.batch, _release_versions(args.release))
    if not out["found"]:
        text = out["why"]
    else:
        text = "\n".join(
            f"{s['sample_id'][:12]} ({' + '.join(s['sources'])}): {s['why']}"
            + "".join(f"\n  steward: {d}" for d in s["decisions"])
            + ("\n  a re-ingest of this content is refused (a steward rejected it)" if s["reingest_refused"] else "")
            for s in out["samples"]
        )  # fmt: skip
    _emit(args, out, text)
    return 0


def cmd_maintain(args: argparse.Namespace) -> int:
    from tessera.orchestration.maintenance import summary_line
    from tessera.resources.indexes import IndexParams
    from tessera.resources.maintenance import MaintenanceParams, maintain
    from tessera.resources.params import load_params

    params = load_params()
    MaintenanceParams.from_params(params)  # bad params fail here, in one line, before any work
    IndexParams.from_params(params)
    if not args.json:  # compaction and index merges on big tables take a while: say so first
        print("maintaining every lake table (compaction, index merge/rebuild, old-version cleanup) …", file=sys.stderr)
    report = maintain(_lake().db(), params)
    text = "\n".join(f"{name:<12} {summary_line(t)}" for name, t in report["tables"].items()) or "the lake has no tables yet"
    _emit(args, report, text)
    for error in report["errors"]:
        print(f"tessera maintain: {error}", file=sys.stderr)
    return 1 if report["errors"] else 0


# -- review (the steward's queue from the terminal; steward/queue.py is shared with the web app) ---
def _who(args: argparse.Namespace) -> str:
    who = args.who or os.environ.get("TESSERA_USER") or os.environ.get("USER") or ""
    if not who:
        raise CliError("who decides? give --who NAME (or set TESSERA_USER)")
    return who


def _queue_filter(args: argparse.Namespace):
    from tessera.steward.queue import Filter

    return Filter(batch=args.batch, stage=args.stage, reason=args.reason, status=getattr(args, "status", "open"))


def _short(text: str, width: int) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def cmd_review_list(args: argparse.Namespace) -> int:
    from tessera.steward.queue import page

    rows, total = page(_lake(), _queue_filter(args), args.limit, args.offset)
    table = [
        [r["sample_id"][:12], r["batch"], r["stage"], r["reason"], (r["decision"] or {}).get("action", "open"), _short(r["detail"] or "", 70)]
        for r in rows
    ]  # fmt: skip
    shown = f"{args.offset + 1}–{args.offset + len(rows)} of {total}" if rows else f"none of {total}"
    text = _table(["sample", "batch", "stage", "reason", "status", "detail"], table) + f"\n{shown}"
    _emit(args, {"total": total, "offset": args.offset, "entries": rows}, text)
    return 0


def cmd_review_show(args: argparse.Namespace) -> int:
    from tessera.steward.queue import resolve, story

    lake = _lake()
    out = story(lake, resolve(lake, args.sample_id))
    lines = [f"sample {out['sample_id']}"]
    for r in out["stages"]:
        verdict = "landed" if r["status"] == "landed" else f"{r['reason']} by {r['op']}: {r['detail']}"
        lines.append(f"  {r['stage']:<10} {r['batch']:<16} {verdict}")
    lines += [f"  text: {r['text']}" for r in out["stages"][-1:] if r.get("text")]
    metrics = out["stages"][-1]["metrics"] if out["stages"] else {}
    lines += [f"  metrics: {', '.join(f'{k}={v:g}' for k, v in sorted(metrics.items()))}"] if metrics else []
    for d in out["decisions"]:
        lines.append(f"  decision {d['decision_id'][:12]} {d['decided_at']:%Y-%m-%d %H:%M} {d['who']}: {d['action']} at {d['stage']}" + (f" — {d['note']}" if d["note"] else ""))
    _emit(args, out, "\n".join(lines))
    return 0


def cmd_review_decide(args: argparse.Namespace) -> int:
    from tessera.core.decisions import Action
    from tessera.steward.queue import decide, entries, resolve, target

    lake, action = _lake(), Action(args.action)
    if args.sample_ids and args.matching:
        raise CliError("give sample ids or --matching, not both")
    if args.matching:
        targets = [{k: e[k] for k in ("sample_id", "batch", "stage", "op", "reason")} for e in entries(lake, _queue_filter(args))]
        if action is Action.APPROVE:
            targets = [t for t in targets if t["stage"] != "raw"]
    elif args.sample_ids:
        targets = [target(lake, resolve(lake, sid), action, args.batch, args.stage) for sid in args.sample_ids]
    else:
        raise CliError("give the sample ids to decide on, or --matching with filters (--batch, --stage, --reason)")
    if not targets:
        raise CliError("no open queue entry matches")
    rows = decide(lake, targets, action, who=_who(args), client="cli", note=args.note or "", text=getattr(args, "text", None))
    batches = sorted({(r["batch"], r["stage"]) for r in rows})
    text = f"{len(rows)} {action.value} decision(s) recorded; the steward_decisions sensor re-runs " + ", ".join(f"{b} from {s}" for b, s in batches)
    _emit(args, {"decisions": rows}, text)
    return 0


# -- steward (the review web app and its users; steward/web.py, steward/users.py) -------------------
def _steward_folder() -> Path:
    from tessera.resources.home import tessera_home

    return tessera_home() / "steward"


def cmd_steward_serve(args: argparse.Namespace) -> int:
    from tessera.resources.home import lake_uri
    from tessera.resources.params import load_params
    from tessera.resources.store import Lake
    from tessera.steward.edge import is_loopback
    from tessera.steward.users import Users
    from tessera.steward.web import serve

    where = f"http://{'[' + args.host + ']' if ':' in args.host else args.host}:{args.port}"
    print(f"review app on {where} (lake {lake_uri()}); Ctrl-C stops it", file=sys.stderr)
    if not Users(_steward_folder()).list():
        print(f"no users yet in {_steward_folder()}: nobody can log in until `tessera steward user add NAME --role steward`", file=sys.stderr)
    if not is_loopback(args.host) and not args.trusted_proxy:
        print(f"warning: {args.host} is not loopback and the app speaks plain HTTP: put it behind a TLS proxy (and name it with --trusted-proxy)", file=sys.stderr)
    try:
        serve(Lake(lake_uri()), _steward_folder(), host=args.host, port=args.port, params=load_params(), session_s=args.session_hours * 3600,
              allowed_hosts=args.allowed_host, trusted_proxies=args.trusted_proxy)  # fmt: skip
    except ValueError as exc:
        raise CliError(str(exc)) from None
    return 0


def cmd_steward_user(args: argparse.Namespace) -> int:
    from tessera.steward.users import Users, new_token

    users = Users(_steward_folder())
    if args.user_command == "list":
        listed = users.list()
        _emit(args, [{"name": u.name, "role": u.role} for u in listed], _table(["user", "role"], [[u.name, u.role] for u in listed]) if listed else "no users yet")
        return 0
    if args.user_command == "remove":
        users.remove(args.name)
        _emit(args, {"removed": args.name}, f"removed {args.name}; their sessions have ended")
        return 0
    generated = new_token() if args.generate_password else None
    if generated is not None:
        password = generated
    elif args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        import getpass

        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            raise CliError("the two passwords differ; nothing changed")
    else:
        raise CliError("no terminal to ask a password on: pass --password-stdin (and the password on stdin) or --generate-password")
    user = users.add(args.name, args.role, password)
    payload = {"name": user.name, "role": user.role, **({"password": generated} if generated else {})}
    _emit(args, payload, f"{user.name} can log in as {user.role}" + (f" with this password (shown once): {generated}" if generated else ""))
    return 0


def cmd_steward_token(args: argparse.Namespace) -> int:
    from tessera.steward.users import Users

    users = Users(_steward_folder())
    if args.token_command == "list":
        rows = users.tokens()
        _emit(args, [{"user": u, "label": lb, "created_at": c} for u, lb, c in rows], _table(["user", "label", "created"], [list(r) for r in rows]) if rows else "no tokens")
        return 0
    try:
        if args.token_command == "revoke":
            users.revoke_token(args.name, args.label)
            _emit(args, {"revoked": args.label, "user": args.name}, f"revoked {args.name}'s token {args.label}; it stops working at once")
            return 0
        token = users.add_token(args.name, args.label)
    except KeyError as exc:
        raise CliError(str(exc.args[0])) from None
    _emit(args, {"user": args.name, "label": args.label, "token": token}, f"{args.name}'s token {args.label} (shown once; send it as `Authorization: Bearer ...`): {token}")
    return 0


# -- parser ------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tessera", description="Multimodal drops → curated, versioned, searchable LanceDB table.")
    p.add_argument("-v", "--verbose", action="store_true", help="show Dagster and library logs")
    sub = p.add_subparsers(dest="command", required=True)

    def add(name: str, fn, help: str, under: Any = sub) -> argparse.ArgumentParser:
        sp = under.add_parser(name, help=help, description=help)
        sp.add_argument("--json", action="store_true", help="machine-readable output")
        sp.set_defaults(fn=fn)
        return sp

    add("demo", cmd_demo, "build the demo corpus, run every stage, print a per-stage summary and a search")
    sp = add("ingest", cmd_ingest, "register a landing drop (a directory) as a new batch partition")
    sp.add_argument("path")
    sp.add_argument("--batch", help="batch name (default: folder name + UTC time)")
    sp.add_argument("--manifest", help="CSV or JSONL mapping files to samples (columns: sample, path|image|audio|video|subtitles|text_path, text)")
    sp = add("materialize", cmd_materialize, "run the stages through Dagster for a batch")
    g = sp.add_mutually_exclusive_group(required=True)
    g.add_argument("--batch")
    g.add_argument("--all", action="store_true", help="every registered batch")
    sp.add_argument("--through", choices=STAGES, default="embedded", help="last stage to run (default: embedded)")
    sp.add_argument("--stage", choices=STAGES, help="run only this stage (used by dvc.yaml)")
    sp.add_argument("--report", metavar="FILE", help="also write the per-stage counts as JSON (a DVC output)")
    sp.add_argument("--force", action="store_true", help="do every stage's work again, even where nothing it depends on changed")
    sp.add_argument("--engine", choices=("local", "ray"), help="where chunks run (default: params.yaml execution.engine); "
                    "ray: TESSERA_RAY_ADDRESS=local|auto|ray://host:10001")  # fmt: skip
    sp = add("status", cmd_status, "per stage: in / landed / quarantined by reason")
    sp.add_argument("--batch")
    sp.add_argument("--release", metavar="NAME", help="the books as release NAME holds them")
    sp = add("search", cmd_search, "text → samples (hybrid vector + full text), or --like SAMPLE_ID")
    sp.add_argument("query", nargs="?", default="")
    sp.add_argument("--k", type=int, default=None, help="hits to return (default: params.yaml search.k)")
    sp.add_argument("--modality", choices=("text", "image", "audio", "video"), help="only samples that have this modality")
    sp.add_argument("--like", metavar="SAMPLE_ID", help="samples nearest to this one")
    sp.add_argument("--variants", action="store_true", help="include augmentation variants in the hits")
    sp.add_argument("--release", metavar="NAME", help="search release NAME (its tagged samples), not the latest")
    sp.add_argument("--image", metavar="FILE", help="a picture as the query (needs the image model)")
    sp.add_argument("--audio", metavar="FILE", help="a sound as the query (needs the audio model)")
    sp = add("serve", cmd_serve, "the search API with warm encoders (POST /api/search; 127.0.0.1, API tokens of `steward token`)")
    sp.add_argument("--host", default="127.0.0.1")
    sp.add_argument("--port", type=int, default=8765)
    sp.add_argument("--allowed-host", action="append", metavar="NAME", help="a host name clients use (needed beyond loopback; repeat)")
    sp.add_argument("--watch", action="store_true", help="the stream path: land each complete drop under the landing root in this warm "
                    "process, seconds after its ready marker (instead of the landing sensor)")  # fmt: skip
    sp = add("delete-batch", cmd_delete_batch, "remove a batch from every stage table; what it held passes to the next batch that has it")
    sp.add_argument("batch")
    add("maintain", cmd_maintain, "compaction, index merge/rebuild, old-version cleanup of every lake table (keeps tagged releases)")
    sp = add("release", cmd_release, "tag every lake table as release NAME and record its manifest; `release diff A B`: what changed")
    sp.add_argument("words", nargs="+", metavar="NAME | diff A B")
    sp.add_argument("--note", help="why this release (kept in its manifest)")
    sp.add_argument("--force", action="store_true", help="cut it even when the golden set's retrieval fell below the last release's")
    add("releases", cmd_releases, "the releases cut so far, oldest first")
    sp = add("lineage", cmd_lineage, "a sample's story from its files to samples: one line per stage row and per operator edge")
    sp.add_argument("sample_id")
    sp.add_argument("--release", metavar="NAME", help="as release NAME holds it")
    sp = add("why-missing", cmd_why_missing, "from a source file (its path in the drop, or its sha256) to why it is, or is not, in samples")
    sp.add_argument("what", metavar="PATH_OR_SHA")
    sp.add_argument("--batch")
    sp.add_argument("--release", metavar="NAME", help="as release NAME holds it")
    review = sub.add_parser("review", help="the steward's review queue: list, show, approve, reject, relabel")
    rsub = review.add_subparsers(dest="review_command", required=True)

    def filters(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--batch")
        sp.add_argument("--stage", choices=STAGES)
        sp.add_argument("--reason", help="a reason code, e.g. LOW_QUALITY")

    sp = add("list", cmd_review_list, "quarantined samples, newest decisions applied; paged", rsub)
    filters(sp)
    sp.add_argument("--status", choices=("open", "decided", "all"), default="open")
    sp.add_argument("--limit", type=int, default=50)
    sp.add_argument("--offset", type=int, default=0)
    sp = add("show", cmd_review_show, "one sample: its row at every stage, metrics, decisions", rsub)
    sp.add_argument("sample_id")
    for action, help in (("approve", "land quarantined samples (the operator's verdict is overridden, on the row)"),
                         ("reject", "keep samples out, now and in every later ingest of the same content"),
                         ("relabel", "replace a sample's caption; it flows through the stages again")):  # fmt: skip
        sp = add(action, cmd_review_decide, help, rsub)
        sp.set_defaults(action=action)
        sp.add_argument("sample_ids", nargs="*", metavar="SAMPLE_ID")
        filters(sp)
        sp.add_argument("--matching", action="store_true", help="every open queue entry the filters match (bulk)")
        sp.add_argument("--note", help="why (kept with the decision)")
        sp.add_argument("--who", help="who decides (default: TESSERA_USER, else USER)")
        if action == "relabel":
            sp.add_argument("--text", required=True, help="the new caption")
    steward = sub.add_parser("steward", help="the steward's review web app: serve it, manage its users")
    ssub = steward.add_subparsers(dest="steward_command", required=True)
    sp = add("serve", cmd_steward_serve, "serve the review web app (127.0.0.1 by default; users log in)", ssub)
    sp.add_argument("--host", default="127.0.0.1")
    sp.add_argument("--port", type=int, default=8080)
    sp.add_argument("--session-hours", type=float, default=8.0, help="a login lasts this long (default: 8)")
    sp.add_argument("--allowed-host", action="append", metavar="NAME", help="a host name clients use (needed beyond loopback; repeat)")
    sp.add_argument("--trusted-proxy", action="append", metavar="ADDR",
                    help="IP or CIDR of a TLS proxy in front of the app: its X-Forwarded-Proto/-For/-Host count (repeat)")  # fmt: skip
    user = ssub.add_parser("user", help="the app's users: add (or change), remove, list")
    usub = user.add_subparsers(dest="user_command", required=True)
    sp = add("add", cmd_steward_user, "add a user, or change a user's role and password", usub)
    sp.add_argument("name")
    sp.add_argument("--role", choices=("steward", "viewer"), required=True, help="steward: may decide; viewer: reads only")
    g = sp.add_mutually_exclusive_group()
    g.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin (default: prompt)")
    g.add_argument("--generate-password", action="store_true", help="generate a password (printed once) instead of asking for one")
    sp = add("remove", cmd_steward_user, "remove a user (their sessions end at once)", usub)
    sp.add_argument("name")
    add("list", cmd_steward_user, "the users and their roles", usub)
    token = ssub.add_parser("token", help="API tokens for scripts (Authorization: Bearer on /api and /media): add, revoke, list")
    tsub = token.add_subparsers(dest="token_command", required=True)
    for name, text in (("add", "make a token for a user (printed once; a label's old token is replaced)"), ("revoke", "revoke a user's token by its label")):
        sp = add(name, cmd_steward_token, text, tsub)
        sp.add_argument("name")
        sp.add_argument("--label", default="default", help="which of the user's tokens (default: default)")
    add("list", cmd_steward_token, "every token's user, label and age (never the token)", tsub)
    sp = add("ui", cmd_ui, "the Dagster web UI over the same instance (127.0.0.1 by default)")
    sp.add_argument("--host", default="127.0.0.1")
    sp.add_argument("--port", type=int, default=3000)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.INFO if args.verbose else logging.ERROR
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:  # libraries that set their own logger levels still stay quiet
        handler.setLevel(level)
    if not args.verbose:  # libraries talk on stderr; the user asked for results
        os.environ.setdefault("LANCE_LOG", "error")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TQDM_DISABLE", "1")
        for noisy in ("dagster", "great_expectations"):
            logging.getLogger(noisy).setLevel(logging.ERROR)
    try:
        return args.fn(args)
    except CliError as exc:
        print(f"tessera {_command(args)}: {exc}", file=sys.stderr)
        return 1
    except (FileNotFoundError, KeyError, ValueError) as exc:
        print(f"tessera {_command(args)}: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 1


def _command(args: argparse.Namespace) -> str:
    return " ".join(c for c in (args.command, getattr(args, "review_command", None), getattr(args, "steward_command", None), getattr(args, "user_command", None), getattr(args, "token_command", None)) if c)


if __name__ == "__main__":
    sys.exit(main())
