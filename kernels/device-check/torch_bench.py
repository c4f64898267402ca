"""PyTorch baselines for the device benchmarks, run by device-check.sh on the GPU machine.

One Hunyuan-Large MoE block (hidden 6400, expert intermediate 18304, 16 routed experts top-1 plus the shared
expert), bf16 weights and activations, from the router's logits to the combined output, in two ways a PyTorch
user would write it: a loop over experts with index_select/index_add_, and torch._grouped_mm over the tokens
sorted by expert. Then the lm_head (vocabulary 128512 × hidden 6400, bf16) through cuBLAS. Prints one line per
(variant, tokens) with the median time over timed repeats (CUDA events).
"""
import sys

import torch
import torch.nn.functional as F

HIDDEN, INTER, EXPERTS, VOCAB = 6400, 18304, 16, 128512
TOKEN_COUNTS = [int(t) for t in sys.argv[1].split(",")] if len(sys.argv) > 1 else [1, 16, 256, 4096]


def make_weights(gen):
    def rand(*shape):
        return (torch.randn(*shape, generator=gen, device="cuda", dtype=torch.float32) * 0.02).to(torch.bfloat16)

    return {
        "router": rand(EXPERTS, HIDDEN),
        "gate_up": rand(EXPERTS, 2 * INTER, HIDDEN),  # [gate; up] rows, as a PyTorch user would concatenate
        "down": rand(EXPERTS, HIDDEN, INTER),
        "shared_gate_up": rand(2 * INTER, HIDDEN),
        "shared_down": rand(HIDDEN, INTER),
    }


def swiglu(gate_up):
    gate, up = gate_up.chunk(2, dim=-1)
    return F.silu(gate) * up


def route(h, w):
    probs = torch.softmax((h @ w["router"].t()).float(), dim=-1)
    weight, expert = probs.max(dim=-1)
    return weight, expert


def shared(h, w):
    return swiglu(h @ w["shared_gate_up"].t()) @ w["shared_down"].t()


def per_expert_loop(h, w):
    weight, expert = route(h, w)
    out = shared(h, w).float()
    for e in range(EXPERTS):
        rows = (expert == e).nonzero(as_tuple=True)[0]
        if rows.numel() == 0:
            continue
        x = h.index_select(0, rows)
        y = swiglu(x @ w["gate_up"][e].t()) @ w["down"][e].t()
        out.index_add_(0, rows, y.float() * weight.index_select(0, rows).unsqueeze(1))
    return out.to(torch.bfloat16)


def grouped_mm(h, w, gate_up_t, down_t):
    weight, expert = route(h, w)
    order = torch.argsort(expert, stable=True)
    offsets = torch.cumsum(torch.bincount(expert, minlength=EXPERTS), 0).to(torch.int32)
    x = h.index_select(0, order)
    y = torch._grouped_mm(swiglu(torch._grouped_mm(x, gate_up_t, offs=offsets)), down_t, offs=offsets)
    out = shared(h, w).float()
    out.index_add_(0, order, y.float() * weight.index_select(0, order).unsqueeze(1))
    return out.to(torch.bfloat16)


def median_ms(fn, repeats):
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    times.sort()
    return times[len(times) // 2]


def lm_head(gen):
    weight = (torch.randn(VOCAB, HIDDEN, generator=gen, device="cuda") * 0.02).to(torch.bfloat16)
    for tokens in (1, 32, 256):
        h = torch.randn(tokens, HIDDEN, generator=gen, device="cuda").to(torch.bfloat16)
        ms = median_ms(lambda: h @ weight.t(), 20)
        gbps = VOCAB * HIDDEN * 2 / (ms / 1e3) / 1e9
        print(f"torch lm_head (cuBLAS bf16) tokens={tokens} ms={ms:.3f} weight_GBps={gbps:.0f}", flush=True)


def main():
    gen = torch.Generator(device="cuda").manual_seed(1)
    w = make_weights(gen)
    # _grouped_mm takes [E, K, N]; a transposed view keeps one copy of the weights.
    gate_up_t, down_t = w["gate_up"].transpose(1, 2), w["down"].transpose(1, 2)
    print(f"torch {torch.__version__} on {torch.cuda.get_device_name()}, grouped_mm: {hasattr(torch, '_grouped_mm')}")
    for tokens in TOKEN_COUNTS:
        h = torch.randn(tokens, HIDDEN, generator=gen, device="cuda", dtype=torch.float32).to(torch.bfloat16)
        repeats = 20 if tokens <= 256 else 10
        loop_ms = median_ms(lambda: per_expert_loop(h, w), repeats)
        print(f"torch-moe loop tokens={tokens} ms={loop_ms:.3f}", flush=True)
        if hasattr(torch, "_grouped_mm"):
            try:
                reference = per_expert_loop(h, w).float()
                got = grouped_mm(h, w, gate_up_t, down_t).float()
                error = ((got - reference).norm() / reference.norm()).item()
                grouped_ms = median_ms(lambda: grouped_mm(h, w, gate_up_t, down_t), repeats)
                print(f"torch-moe grouped_mm tokens={tokens} ms={grouped_ms:.3f} rel_err_vs_loop={error:.2e}",
                      flush=True)
            except RuntimeError as failure:
                print(f"torch-moe grouped_mm tokens={tokens} failed: {str(failure).splitlines()[0]}", flush=True)
    del w
    lm_head(gen)


if __name__ == "__main__":
    main()
