"""Training-step benchmark: dlkit vs PyTorch vs the model's NumPy GEMM floor, in one process.

A training step is forward + backward + SGD update on one mini-batch, float32, with no
input gradient for the first layer on either side. The GEMM floor is the same matrix
products timed alone with NumPy (forward ``x @ W``, weight gradient ``x.T @ dy`` and input
gradient ``dy @ W.T`` for every layer but the first). Times are medians over repeats of
``--steps`` consecutive steps; ratios are what the issue's targets are stated in.

Run with ``make bench`` (or ``python -m benchmarks.bench_step --help``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections.abc import Callable

import numpy as np

from dlkit import losses, nn, optim

MODELS = {
    "mnist1d_mlp": {"sizes": [40, 100, 100, 10], "batch": 100},
    "deep_relu_30x64": {"sizes": [64] + [64] * 30 + [10], "batch": 128},
    "mlp_784_256x3": {"sizes": [784, 256, 256, 256, 10], "batch": 128},
    # Greydanus (2020): Conv1d(1,25,5,s2,p1) - Conv1d(25,25,3,s2,p1) x2 - Dense(125, 10)
    "mnist1d_cnn": {"conv": [(1, 25, 5), (25, 25, 3), (25, 25, 3)], "length": 40, "batch": 100},
    # Greydanus (2020), notebooks/models.py GRUBase: GRU(1, hidden_size=6) over the 40 steps,
    # every step's output flattened into Linear(T * H, 10). GRUBase is bidirectional; dlkit's
    # GRU is not, so this is its forward direction only. gru_h64: the same with H = 64.
    "mnist1d_gru": {"gru": 6, "length": 40, "batch": 100},
    "mnist1d_gru_h64": {"gru": 64, "length": 40, "batch": 100},
}


def _conv_lengths(spec) -> list[int]:
    """Input length of every conv layer and the final one (stride 2, padding 1)."""
    lengths = [spec["length"]]
    for _, _, k in spec["conv"]:
        lengths.append((lengths[-1] + 2 - k) // 2 + 1)
    return lengths


def _median_time(step: Callable[[], None], steps: int, repeats: int) -> float:
    """Median seconds per step over ``repeats`` blocks of ``steps`` calls (after warm-up)."""
    for _ in range(max(3, steps // 5)):
        step()
    blocks = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        blocks.append((time.perf_counter() - t0) / steps)
    return float(np.median(blocks))


def _dlkit_gru_step(spec, rng):
    """GRU (no input gradient) -> flatten every step's output -> Dense -> cross-entropy."""
    hidden, length, batch = spec["gru"], spec["length"], spec["batch"]
    gru = nn.GRU(1, hidden, rng=rng)
    gru.input_grad = False
    head = nn.Dense(length * hidden, 10, rng=rng)
    loss = losses.CrossEntropyLoss()
    opt = optim.SGD(gru.parameters() + head.parameters(), lr=1e-3)
    x = rng.standard_normal((batch, length, 1), dtype=np.float32)
    y = rng.integers(0, 10, batch)

    def step():
        out, _ = gru.forward(x, train=True)
        loss.forward(head.forward(out.reshape(batch, -1), train=True), y)
        opt.zero_grad()
        d_flat = head.backward(loss.backward())
        gru.backward(d_flat.reshape(batch, length, hidden))
        opt.step()

    return step


def _torch_gru_step(spec, rng):
    import torch

    torch.manual_seed(0)
    hidden, length, batch = spec["gru"], spec["length"], spec["batch"]
    gru = torch.nn.GRU(1, hidden, batch_first=True)
    head = torch.nn.Linear(length * hidden, 10)
    loss = torch.nn.CrossEntropyLoss()
    opt = torch.optim.SGD([*gru.parameters(), *head.parameters()], lr=1e-3)
    x = torch.from_numpy(rng.standard_normal((batch, length, 1), dtype=np.float32))
    y = torch.from_numpy(rng.integers(0, 10, batch))

    def step():
        opt.zero_grad()
        out, _ = gru(x)
        loss(head(out.reshape(batch, -1)), y).backward()
        opt.step()

    return step


def _dlkit_model(spec, rng):
    layers = []
    if "conv" in spec:
        for c_in, c_out, k in spec["conv"]:
            layers += [nn.Conv1d(c_in, c_out, k, stride=2, padding=1, rng=rng), nn.ReLU()]
        flat = spec["conv"][-1][1] * _conv_lengths(spec)[-1]
        return nn.Sequential(*layers, nn.Flatten(), nn.Dense(flat, 10, rng=rng))
    sizes = spec["sizes"]
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Dense(a, b, init="kaiming_normal", rng=rng))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _input_shape(spec) -> tuple[int, ...]:
    if "conv" in spec:
        return (spec["batch"], 1, spec["length"])
    return (spec["batch"], spec["sizes"][0])


def dlkit_step(spec, rng):
    if "gru" in spec:
        return _dlkit_gru_step(spec, rng)
    model = _dlkit_model(spec, rng)
    model.input_grad = False
    loss = losses.CrossEntropyLoss()
    opt = optim.SGD(model.parameters(), lr=1e-3)
    x = rng.standard_normal(_input_shape(spec), dtype=np.float32)
    y = rng.integers(0, 10, spec["batch"])

    def step():
        out = model.forward(x, train=True)
        loss.forward(out, y)
        opt.zero_grad()
        model.backward(loss.backward())
        opt.step()

    return step


def torch_step(spec, rng):
    import torch

    if "gru" in spec:
        return _torch_gru_step(spec, rng)
    torch.manual_seed(0)
    mods = []
    if "conv" in spec:
        for c_in, c_out, k in spec["conv"]:
            mods += [torch.nn.Conv1d(c_in, c_out, k, stride=2, padding=1), torch.nn.ReLU()]
        flat = spec["conv"][-1][1] * _conv_lengths(spec)[-1]
        mods += [torch.nn.Flatten(), torch.nn.Linear(flat, 10)]
    else:
        sizes = spec["sizes"]
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            mods.append(torch.nn.Linear(a, b))
            if i < len(sizes) - 2:
                mods.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*mods)
    loss = torch.nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    x = torch.from_numpy(rng.standard_normal(_input_shape(spec), dtype=np.float32))
    y = torch.from_numpy(rng.integers(0, 10, spec["batch"]))

    def step():
        opt.zero_grad()
        loss(model(x), y).backward()
        opt.step()

    return step


def _gemm_shapes(spec) -> list[tuple[int, int, int]]:
    """(rows, inner, cols) of every layer's forward product ``x (rows, inner) @ W (inner, cols)``.

    A convolution is its im2col product: one row per (sample, output position), one inner
    element per (input channel, kernel tap). A GRU is its input projection over all steps at
    once, then its recurrent product ``h (N, H) @ W_hh.T (H, 3H)`` once per step, then the head.
    """
    batch = spec["batch"]
    if "gru" in spec:
        hidden, length = spec["gru"], spec["length"]
        recurrent = [(batch, hidden, 3 * hidden)] * length
        return [(batch * length, 1, 3 * hidden), *recurrent, (batch, length * hidden, 10)]
    if "conv" in spec:
        lengths = _conv_lengths(spec)
        shapes = [
            (batch * n_out, c_in * k, c_out)
            for (c_in, c_out, k), n_out in zip(spec["conv"], lengths[1:])
        ]
        return shapes + [(batch, spec["conv"][-1][1] * lengths[-1], 10)]
    sizes = spec["sizes"]
    return [(batch, a, b) for a, b in zip(sizes[:-1], sizes[1:])]


def gemm_floor_step(spec, rng):
    shapes = _gemm_shapes(spec)
    ws = [rng.standard_normal((k, n), dtype=np.float32) for _, k, n in shapes]
    xs = [rng.standard_normal((m, k), dtype=np.float32) for m, k, _ in shapes]
    dys = [rng.standard_normal((m, n), dtype=np.float32) for m, _, n in shapes]

    def step():
        for x, w in zip(xs, ws):
            x @ w
        for i, (x, w, dy) in enumerate(zip(xs, ws, dys)):
            x.T @ dy
            if i:
                dy @ w.T

    return step


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=200, help="steps per timed block")
    parser.add_argument("--repeats", type=int, default=7, help="timed blocks (median)")
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=list(MODELS))
    parser.add_argument(
        "--max-load",
        type=float,
        default=0.7,
        help="refuse to report when the 1-min load average per core exceeds this",
    )
    parser.add_argument("--force", action="store_true", help="report even on a busy machine")
    args = parser.parse_args(argv)

    load1 = os.getloadavg()[0]
    cores = os.cpu_count() or 1
    print(f"machine: {cores} cores, load average (1 min) {load1:.2f}")
    if load1 / cores > args.max_load:
        msg = (
            f"the machine is busy (load {load1:.2f} on {cores} cores): timings would be unreliable"
        )
        if not args.force:
            print(f"refusing to report: {msg}; rerun when idle or pass --force", file=sys.stderr)
            return 2
        warnings.warn(msg, stacklevel=1)
    try:
        import torch

        torch_version = torch.__version__
    except ImportError:
        torch = None
        torch_version = "not installed"
    from threadpoolctl import threadpool_info

    blas = [
        f"{i['internal_api']} {i.get('version')} ({i['num_threads']} threads)"
        for i in threadpool_info()
        if i["user_api"] == "blas"
    ][:1]
    print(f"numpy {np.__version__} [{', '.join(blas)}], torch {torch_version}")
    header = (
        f"{'model':<18} {'batch':>5} {'dlkit ms':>9} {'torch ms':>9} {'floor ms':>9} "
        f"{'dlkit/torch':>11} {'dlkit/floor':>11}"
    )
    print(header)
    print("-" * len(header))
    for name in args.models:
        spec = MODELS[name]
        batch = spec["batch"]
        rng = np.random.default_rng(0)
        t_dl = _median_time(dlkit_step(spec, rng), args.steps, args.repeats)
        t_floor = _median_time(gemm_floor_step(spec, rng), args.steps, args.repeats)
        if torch is not None:
            t_torch = _median_time(torch_step(spec, rng), args.steps, args.repeats)
            torch_ms, ratio = f"{t_torch * 1e3:9.3f}", f"{t_dl / t_torch:11.2f}"
        else:
            torch_ms, ratio = f"{'-':>9}", f"{'-':>11}"
        print(
            f"{name:<18} {batch:>5} {t_dl * 1e3:9.3f} {torch_ms} {t_floor * 1e3:9.3f} "
            f"{ratio} {t_dl / t_floor:11.2f}"
        )
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
