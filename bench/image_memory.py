"""Peak memory and time of preparing hostile and big reference images: each < +150 MB, < 3 s.

Run from the repo root:  python bench/image_memory.py [--keep DIR] [--no-control]

A child writes the images below into a temporary directory (``--keep DIR`` writes them there
and leaves them; the parent never holds them, so it stays small), then each is prepared in a
fresh child process (``python bench/image_memory.py --child PATH MODEL``) with the image spec
of each model
(``kling``: bot/models/kling.py, ``sora``: bot/models/sora.py). A child imports what
``bot.media.images`` needs, reads the file, calls ``prepare_image`` once and reports the result (the
user-facing message when refused), the wall time of the call and its ``ru_maxrss``.

The figure compared with the target is the child's peak RSS minus that of a baseline child that
only does the imports (``--baseline``): the file's own bytes count, as the bot holds them too.
Also printed, for information, the growth during the ``prepare_image`` call alone. A control
child (unless ``--no-control``) decodes the 79-megapixel WebP whole with plain Pillow, the way
preparation did before its header was checked, to show the measurement catches a full decode.
Exit status 1 when a target is missed, 0 otherwise.

The images:

- ``webp-79mp-solid``: 10000x7900 of one colour, lossy, ~140 KB.
- ``ico-liar``: an ICO whose directory says 256x256, holding a 13300x13300 (177-megapixel)
  PNG, ~0.5 MB.
- ``jpeg-noise-38mb``: 6600x4950 of random pixels at quality 95, ~38 MB.
- ``jpeg-progressive-64mp``: 8000x8000 of one colour, progressive, ~0.4 MB (libjpeg holds all
  the DCT coefficients of a progressive JPEG, whatever the scale it decodes at).
- ``jpeg-phone-4000x3000``: a photo-like 4000x3000 JPEG, what a phone sends.
- ``png-big-4000x3000``: the same picture as an RGBA PNG, ~11 MB (over Sora's 10 MB).
"""

from __future__ import annotations

import argparse
import io
import json
import random
import resource
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGET_MB = 150.0
TARGET_SECONDS = 3.0
MODELS = ("kling", "sora")


def _maxrss_bytes() -> int:
    """This process's peak RSS. On Linux from VmHWM: ru_maxrss survives exec, so a child
    would start from the peak of whoever spawned it."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    # Linux reports kilobytes, macOS bytes.
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024


def _mb(n: float) -> str:
    return f"{n / 1_000_000:7.1f} MB"


def _size(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB" if n >= 1_000_000 else f"{n / 1_000:.0f} KB"


# ------------------------------------------------------------------------------ images
def _png(width: int, height: int) -> bytes:
    """A black RGB PNG, compressed row by row so the pixels never exist in memory."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    z = zlib.compressobj(9)
    row = bytes(1 + 3 * width)  # filter byte + pixels
    idat = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _ico(declared: int, payload: bytes) -> bytes:
    side = 0 if declared == 256 else declared  # 0 means 256 in an ICO directory
    entry = struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(payload), 6 + 16)
    return struct.pack("<HHH", 0, 1, 1) + entry + payload


def _photo(width: int, height: int):  # -> PIL.Image.Image
    """Smooth colour fields with fine grain: compresses roughly like a photo."""
    from PIL import Image, ImageFilter

    rng = random.Random(7)
    small = Image.frombytes(
        "RGB", (width // 50, height // 50), rng.randbytes(width * height // 2500 * 3)
    )
    base = small.resize((width, height), Image.Resampling.BICUBIC)
    grain = Image.frombytes("L", (width // 2, height // 2), rng.randbytes(width * height // 4))
    mask = grain.resize((width, height), Image.Resampling.NEAREST).point(
        lambda v: 255 if v > 128 else 0
    )
    return Image.composite(base, base.filter(ImageFilter.GaussianBlur(1)), mask)


def _encode(im, fmt: str, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kwargs)
    return buf.getvalue()


def _write_images(folder: Path) -> list[Path]:
    from PIL import Image

    made: list[Path] = []

    def put(name: str, data: bytes) -> None:
        path = folder / name
        path.write_bytes(data)
        made.append(path)
        print(f"  {name:32} {_size(len(data)):>9}", flush=True)

    put("webp-79mp-solid.webp", _encode(Image.new("RGB", (10000, 7900), (40, 90, 200)), "WEBP"))
    put("ico-liar.ico", _ico(256, _png(13300, 13300)))
    noise = Image.frombytes("RGB", (6600, 4950), random.Random(1).randbytes(6600 * 4950 * 3))
    put("jpeg-noise-38mb.jpg", _encode(noise, "JPEG", quality=95))
    del noise
    solid = Image.new("RGB", (8000, 8000), (9, 9, 9))
    put("jpeg-progressive-64mp.jpg", _encode(solid, "JPEG", progressive=True))
    del solid
    photo = _photo(4000, 3000)
    put("jpeg-phone-4000x3000.jpg", _encode(photo, "JPEG", quality=92))
    put("png-big-4000x3000.png", _encode(photo.convert("RGBA"), "PNG"))
    return made


# ------------------------------------------------------------------------------ children
def _imports() -> None:
    """What every child loads, so the baseline holds the same libraries."""
    from PIL import Image

    import bot.media.images
    import bot.models.kling
    import bot.models.sora  # noqa: F401

    Image.init()


def _child(path: str, model: str) -> dict[str, object]:
    _imports()
    from bot.media.images import ImageError, prepare_image
    from bot.models.kling import KlingOmni
    from bot.models.sora import SoraStoryboard

    spec = {"kling": KlingOmni.image_spec, "sora": SoraStoryboard.image_spec}[model]
    data = Path(path).read_bytes()
    before = _maxrss_bytes()
    t0 = time.perf_counter()
    try:
        out = prepare_image(data, spec)
    except ImageError as exc:
        result = f"refused: {exc}"
    else:
        summary = out.summary() or "untouched"
        result = (
            f"prepared: {out.format} {out.width}x{out.height} {_size(len(out.data))}; {summary}"
        )
    seconds = time.perf_counter() - t0
    return {"result": result, "seconds": seconds, "before": before, "after": _maxrss_bytes()}


def _control(path: str) -> dict[str, object]:
    _imports()
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None
    data = Path(path).read_bytes()
    t0 = time.perf_counter()
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        size = im.size
    return {
        "result": f"decoded {size[0]}x{size[1]}",
        "seconds": time.perf_counter() - t0,
        "after": _maxrss_bytes(),
    }


def _baseline() -> dict[str, object]:
    _imports()
    return {"after": _maxrss_bytes()}


def _run(*args: str) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *args],
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"child {args} exited {proc.returncode}:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------ parent
def _parent(keep: Path | None, control: bool) -> int:
    with tempfile.TemporaryDirectory(prefix="bench-images-") as tmp:
        folder = keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        print(f"writing the images into {folder}")
        written = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--write", str(folder)],
            cwd=str(ROOT),
            stdout=subprocess.PIPE,
            text=True,
            timeout=300,
            check=True,
        )
        *listing, paths = written.stdout.rstrip().splitlines()
        print("\n".join(listing))
        images = [Path(p) for p in json.loads(paths)]
        baseline = int(_run("--baseline")["after"])
        print(f"baseline child (imports only): peak RSS {_mb(baseline)}")
        print()
        print(f"{'image':27} {'model':5} {'time':>7} {'+RSS':>10} {'(in call)':>10}  result")
        ok = True
        for path in images:
            for model in MODELS:
                res = _run("--child", str(path), model)
                grown = int(res["after"]) - baseline
                in_call = int(res["after"]) - int(res["before"])
                met = grown < TARGET_MB * 1_000_000 and float(res["seconds"]) < TARGET_SECONDS
                ok &= met
                print(
                    f"{path.stem:27} {model:5} {float(res['seconds']):6.2f}s {_mb(grown)} "
                    f"{_mb(in_call)}  {'' if met else 'MISSED '}{res['result']}",
                    flush=True,
                )
        print()
        print(
            f"target: every line under +{TARGET_MB:.0f} MB over the baseline and "
            f"{TARGET_SECONDS:.0f} s: {'met' if ok else 'MISSED'}"
        )
        if control:
            res = _run("--control", str(images[0]))
            grown = int(res["after"]) - baseline
            print(
                f"control: {images[0].stem} decoded whole by plain Pillow (before the header "
                f"checks): {_mb(grown).strip()} over the baseline in {float(res['seconds']):.2f} s "
                "(shows the measurement catches a full decode)"
            )
            if grown < 500_000_000:
                print("the control did not show the expected growth: the measurement is suspect")
                ok = False
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="write the images here and leave them")
    parser.add_argument("--no-control", action="store_true", help="skip the full-decode control")
    parser.add_argument("--child", nargs=2, metavar=("PATH", "MODEL"), help=argparse.SUPPRESS)
    parser.add_argument("--control", metavar="PATH", help=argparse.SUPPRESS)
    parser.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--write", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write:
        print(json.dumps([str(p) for p in _write_images(args.write)]))
        return 0
    if args.child:
        print(json.dumps(_child(*args.child)))
        return 0
    if args.control:
        print(json.dumps(_control(args.control)))
        return 0
    if args.baseline:
        print(json.dumps(_baseline()))
        return 0
    return _parent(args.keep, control=not args.no_control)


if __name__ == "__main__":
    sys.exit(main())
