"""``python -m arttrack.models list|fetch|path|remove``: the pretrained model cache.

Exit status: 0 done, 2 bad usage / unknown model / not installed / files missing from
``--from``, 1 a failure during the work (download, verification, conversion), 130 Ctrl-C
(partial downloads are kept; the same command resumes them).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from arttrack import cli

_PROG = "python -m arttrack.models"

_EPILOG = """\
examples:
  python -m arttrack.models list
  python -m arttrack.models fetch deepercut-coco-resnet101
  python -m arttrack.models fetch deepercut-coco-resnet101 --from ~/pose-tensorflow/models/coco
  python -m arttrack.models path deepercut-coco-resnet101
  python -m arttrack.models remove deepercut-coco-resnet101

The cache is $ARTTRACK_HOME (default ~/.cache/arttrack): finished models in models/NAME/,
interrupted downloads in downloads/NAME/ (resumed by the next fetch)."""


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-v", "--verbose", action="store_true", help="log progress (INFO)")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog=_PROG, formatter_class=fmt, epilog=_EPILOG,
        description="Download, convert and cache published pose models (DeeperCut/ArtTrack "
                    "checkpoints, TF-slim ImageNet ResNets) as arttrack models.")
    sub = parser.add_subparsers(dest="command", metavar="{list,fetch,path,remove}", required=True)

    p = sub.add_parser(
        "list", help="the registry's models and whether they are installed",
        formatter_class=fmt, description="List the registry's models: name, task, joint set, "
        "whether installed (and its size on disk), summary.",
        epilog="examples:\n  python -m arttrack.models list\n"
               "  python -m arttrack.models list --json")
    p.add_argument("--json", action="store_true",
                   help="print JSON (every field, file URLs and install paths included)")
    _add_common(p)

    p = sub.add_parser(
        "fetch", help="download (or import), verify and convert a model into the cache",
        formatter_class=fmt,
        description="Download a model's original files (resuming interrupted downloads, "
                    "retrying transient errors), verify them, convert them and install the "
                    "model in the cache in one step: a failed or interrupted fetch leaves no "
                    "half-written model. Does nothing when the model is already installed.",
        epilog="examples:\n"
               "  python -m arttrack.models fetch deepercut-coco-resnet101\n"
               "  python -m arttrack.models fetch imagenet-resnet_v1_101 --from DIR\n"
               "      (DIR holds resnet_v1_101_2016_08_28.tar.gz or the extracted "
               "resnet_v1_101.ckpt)")
    p.add_argument("name", metavar="NAME", help="model name (see `list`)")
    p.add_argument("--from", dest="from_dir", metavar="DIR",
                   help="take the files from DIR, downloaded by hand as the authors' scripts "
                        "leave them (tarballs as such or already extracted), instead of "
                        "downloading")
    p.add_argument("--force", action="store_true",
                   help="fetch and convert again even if installed (the installed model is "
                        "replaced only once the new one is complete)")
    p.add_argument("--retries", type=_non_negative_int, default=3, metavar="N",
                   help="retries of a failing download (connection lost, timeout, HTTP 5xx; "
                        "default 3)")
    p.add_argument("--timeout", type=float, default=30.0, metavar="S",
                   help="network timeout in seconds (default 30)")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bars (they are shown only on a terminal anyway)")
    _add_common(p)

    p = sub.add_parser(
        "path", help="print an installed model's folder", formatter_class=fmt,
        description="Print the folder of an installed model (exit status 2 when it is not "
                    "installed).",
        epilog="example:\n  ls \"$(python -m arttrack.models path deepercut-coco-resnet101)\"")
    p.add_argument("name", metavar="NAME", help="model name (see `list`)")
    _add_common(p)

    p = sub.add_parser(
        "remove", help="delete an installed model and its partial downloads",
        formatter_class=fmt,
        description="Delete an installed model and any partial downloads of it.",
        epilog="example:\n  python -m arttrack.models remove deepercut-coco-resnet101")
    p.add_argument("name", metavar="NAME", help="model name (see `list`)")
    _add_common(p)
    return parser


def _non_negative_int(s: str) -> int:
    try:
        n = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {s!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {n}")
    return n


def _size(n: int | None) -> str:
    from arttrack.models.zoo import human_size

    return human_size(n)


def _run(args: argparse.Namespace) -> int:
    from arttrack.models import zoo

    if args.command == "list":
        rows = zoo.list_models_status()
        if args.json:
            print(json.dumps([r.to_dict() for r in rows], indent=2))
            return 0
        table = [("NAME", "TASK", "JOINTS", "DOWNLOAD", "INSTALLED", "SUMMARY")]
        for r in rows:
            approx = r.entry.approx_download_size
            exact = r.entry.download_size is not None
            table.append((r.entry.name, r.entry.task, r.entry.joint_set or "-",
                          "?" if approx is None else ("" if exact else "~") + _size(approx),
                          f"yes ({_size(r.size_bytes)})" if r.installed else "no",
                          r.entry.summary))
        widths = [max(len(row[i]) for row in table) for i in range(5)]
        for row in table:
            print("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[5])
        print(f"\ncache: {zoo.cache_root()}")
        return 0
    if args.command == "fetch":
        cached = not args.force and zoo.is_installed(args.name)
        d = zoo.fetch(args.name, from_dir=args.from_dir, force=args.force,
                      progress=False if args.no_progress else None, retries=args.retries,
                      timeout=args.timeout)
        if cached:
            print(f"{args.name} is already installed in {d} (--force fetches it again)")
        else:
            print(f"installed {args.name} in {d}")
        meta = zoo.read_model_json(d)
        print(f"licence: {meta['licence']}")
        return 0
    if args.command == "path":
        print(zoo.model_dir(args.name))
        return 0
    if args.command == "remove":
        if zoo.remove(args.name):
            print(f"removed {args.name}")
        else:
            print(f"{args.name} is not installed; nothing to remove")
        return 0
    raise AssertionError(args.command)  # pragma: no cover - argparse restricts it


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    cli.setup_logging(int(bool(args.verbose)))
    from arttrack.models import zoo

    def saved() -> str:
        if args.command == "fetch" and args.from_dir is None:
            return (f"nothing was installed, partial downloads are kept in "
                    f"{zoo.cache_root() / 'downloads' / args.name}: run the same command again "
                    "to resume")
        return "nothing was installed" if args.command == "fetch" else "nothing was changed"

    return cli.run(f"arttrack.models {args.command}", lambda: _run(args), debug=args.debug,
                   saved=saved)


if __name__ == "__main__":
    sys.exit(main())
