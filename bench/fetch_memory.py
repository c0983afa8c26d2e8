"""Peak memory of fetching a result video: 100 MB must cost < 20 MB more than 200 KB.

Run from the repo root:  python bench/fetch_memory.py

The parent process runs the fake kie.ai (tests/fakes/fakekie.py, 127.0.0.1 only), whose result file
is a filler stream of the requested size that the server never holds in memory. Each fetch runs
in a fresh child process (``python bench/fetch_memory.py --child URL SIZE``) that sets up what
the bot sets up (imports ``bot``, builds Settings and a KieClient with its aiohttp session),
uploads an image, creates a ``sora-2-pro-storyboard`` task with the seed-shaped body, reads
the record back with recordInfo, and only then measures ``ru_maxrss`` around
``KieClient.fetch(result_url, dest, max_bytes=...)`` (which is bot.media.download.download_file).

The figure compared is the child's peak RSS after the fetch; both children do exactly the same
work apart from the size, so the difference is what the size costs. Exit status 1 when the
target is missed (or a fetch is wrong), 0 otherwise. A third child, the control, reads the
same 100 MB whole with ``resp.read()`` to show that the measurement does catch a fetch that
holds the video in memory.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SMALL = 200 * 1024
LARGE = 100 * 1024 * 1024
TARGET_MB = 20.0


def _maxrss_bytes() -> int:
    # Linux reports kilobytes, macOS bytes.
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024


def _mb(n: float) -> str:
    return f"{n / (1024 * 1024):7.2f} MB"


# ------------------------------------------------------------------------------ child
async def _child(url: str, size: int, control: bool = False) -> dict[str, object]:
    from bot.domain.storyboard import Shot, Storyboard
    from bot.kie import KieClient, RateLimits
    from bot.media.images import prepare_image
    from bot.models.sora import SoraStoryboard
    from tests.helpers import make_settings, png_bytes

    board = Storyboard(
        shots=(
            Shot(scene="A fluffy orange kitten wearing headphones", tenths=75),
            Shot(scene="The kitten licks its lips, content", tenths=75),
        ),
        length=15,
        aspect="landscape",
    )
    model = SoraStoryboard()
    with tempfile.TemporaryDirectory(prefix="bench-fetch-") as tmp:
        settings = make_settings(Path(tmp), url)
        async with KieClient(settings.kie, limits=RateLimits()) as kie:
            image = prepare_image(png_bytes(), model.image_spec)
            image_url = await kie.upload(image.data, f"bench.{image.extension}", "bench")
            task_id = await kie.create_task(model.request_body(board, image_url))
            record = None
            for _ in range(100):
                record = await kie.record_info(task_id)
                if record is not None and record.state == "success":
                    break
                await asyncio.sleep(0.05)
            assert record is not None and record.state == "success", record
            result_url = model.result_url(record)
            assert result_url, "no result URL in the record"

            dest = Path(tmp) / "videos" / "result.mp4"
            gc.collect()
            before = _maxrss_bytes()
            t0 = time.perf_counter()
            if control:
                # The instrument's check: the same bytes read whole into memory.
                async with kie.session.get(result_url) as resp:
                    body = await resp.read()
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(body)
                got = len(body)
                del body
            else:
                got = await kie.fetch(result_url, dest, max_bytes=settings.kie.max_video_bytes)
            seconds = time.perf_counter() - t0
            after = _maxrss_bytes()

            h = hashlib.sha256()
            with dest.open("rb") as fh:
                while block := fh.read(1024 * 1024):
                    h.update(block)
            on_disk = dest.stat().st_size
    return {
        "size": size,
        "fetched": got,
        "on_disk": on_disk,
        "sha256": h.hexdigest(),
        "rss_before": before,
        "rss_after": after,
        "seconds": seconds,
        "result_url": result_url,
    }


# ------------------------------------------------------------------------------ parent
async def _run_child(url: str, size: int, control: bool = False) -> dict[str, object]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).resolve()),
        "--control" if control else "--child",
        url,
        str(size),
        cwd=str(ROOT),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(
            f"child for {size} bytes exited {proc.returncode}:\n{err.decode(errors='replace')}"
        )
    return json.loads(out.decode().strip().splitlines()[-1])


async def _parent() -> int:
    from tests.fakes.fakekie import FakeKie, TaskPlan

    results: dict[tuple[int, bool], dict[str, object]] = {}
    ok = True
    for size, control in ((SMALL, False), (LARGE, False), (LARGE, True)):
        # A fresh fake per size: result_bytes=N streams N filler bytes without holding them.
        async with FakeKie(result_bytes=size, auto_callbacks=False) as fake:
            fake.plan = TaskPlan(duration=0.0)  # the task has succeeded as soon as it exists
            expected = fake.result_sha256()
            res = await _run_child(fake.url, size, control)
            calls = dict(fake.calls)
        results[size, control] = res
        good = res["fetched"] == res["on_disk"] == size and res["sha256"] == expected
        ok &= good
        how = "resp.read() (control)" if control else "KieClient.fetch      "
        print(
            f"{how} {size:>11,} bytes: peak RSS before {_mb(res['rss_before'])}, "
            f"after {_mb(res['rss_after'])} (+{_mb(res['rss_after'] - res['rss_before'])}), "
            f"{res['seconds']:.2f} s, content {'ok' if good else 'WRONG'}; "
            f"fake saw {calls}"
        )

    small, large = results[SMALL, False], results[LARGE, False]
    control = results[LARGE, True]
    diff = int(large["rss_after"]) - int(small["rss_after"])
    control_diff = int(control["rss_after"]) - int(small["rss_after"])
    met = diff < TARGET_MB * 1024 * 1024
    print()
    print(f"peak RSS, 200 KB fetch : {_mb(small['rss_after'])}")
    print(f"peak RSS, 100 MB fetch : {_mb(large['rss_after'])}")
    print(
        f"difference             : {_mb(diff)}   (target < {TARGET_MB:.0f} MB: "
        f"{'met' if met else 'MISSED'})"
    )
    print(
        f"control: the same 100 MB read whole with resp.read() costs {_mb(control_diff)} more "
        "(shows the measurement would catch a non-streaming fetch)"
    )
    if control_diff < LARGE // 2:
        print("the control did not show the expected growth: the measurement is suspect")
        ok = False
    if not ok:
        print("a fetched file did not match what the fake served", file=sys.stderr)
    return 0 if met and ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=2, metavar=("URL", "SIZE"), help=argparse.SUPPRESS)
    parser.add_argument("--control", nargs=2, metavar=("URL", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child or args.control:
        url, size = args.child or args.control
        print(json.dumps(asyncio.run(_child(url, int(size), control=bool(args.control)))))
        return 0
    return asyncio.run(_parent())


if __name__ == "__main__":
    sys.exit(main())
