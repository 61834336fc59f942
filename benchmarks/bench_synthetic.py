"""Speed of the synthetic generator: prints medians (ms), never asserts on time.

    python benchmarks/bench_synthetic.py [--n 300]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from arttrack.data.synthetic import SyntheticConfig, SyntheticPoseDataset, generate_clip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=300, help="images to time")
    ap.add_argument("--frames", type=int, default=60, help="clip frames to time")
    args = ap.parse_args()
    ds = SyntheticPoseDataset(seed=0, size=args.n, config=SyntheticConfig(num_people=(3, 3)))
    ds[0]
    wall, cpu = [], []
    for i in range(args.n):
        t, c = time.perf_counter(), time.process_time()
        ds[i]
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    print(f"image 256x256, 3 people: median {np.median(wall) * 1e3:.2f} ms wall, "
          f"{np.mean(cpu) * 1e3:.2f} ms cpu (mean), min {np.min(wall) * 1e3:.2f} ms")
    # the demo model's training images: 160x160, 1-3 people, drawn freely or cut from a clip
    demo = SyntheticConfig(width=160, height=160, num_people=(1, 3), person_height=(0.65, 0.95),
                           walking=0.6, facing_cues=True, joint_set="posetrack15")
    med = {}
    for share in (0.0, 1.0):
        ds = SyntheticPoseDataset(seed=0, size=args.n, config=demo, clip_frames=share)
        ds[0]
        times = []
        for i in range(args.n):
            t = time.perf_counter()
            ds[i]
            times.append(time.perf_counter() - t)
        med[share] = float(np.median(times))
    print(f"image 160x160, 1-3 people: median {med[0.0] * 1e3:.2f} ms free scenes, "
          f"{med[1.0] * 1e3:.2f} ms clip windows (ratio {med[1.0] / med[0.0]:.2f})")
    cfg = SyntheticConfig(width=640, height=480, num_people=(2, 4))
    t, c = time.perf_counter(), time.process_time()
    clip = generate_clip(0, args.frames, cfg)
    w, cp = time.perf_counter() - t, time.process_time() - c
    people = np.mean([len(p) for p in clip.people])
    print(f"clip 640x480, {people:.1f} people/frame: {w / args.frames * 1e3:.2f} ms/frame wall, "
          f"{cp / args.frames * 1e3:.2f} ms/frame cpu")


if __name__ == "__main__":
    main()
