"""Reference check of nf's latent-space building blocks against plain torch, each recomputed here in
float64 from its published definition (not from nf's code) out of the inputs nf_latent_export wrote:

  vq     vector quantization with the straight-through estimator (van den Oord et al. 2017):
         nearest code by squared euclidean distance, commitment and codebook losses, gradients.
  vq_sphere  the same with z and the codebook first scaled to norm sqrt(D) (F.normalize): the
         nearest code is the most cosine-similar one; gradients through the normalization.
  ema    the EMA codebook update of Sonnet's VectorQuantizerEMA with Laplace smoothing of the
         cluster sizes (the plain EMA, without Sonnet 2's zero-debiasing), and the code perplexity.
  act    adaptive computation time halting (Graves 2016): halting step, remainder, weights,
         ponder cost and the gradient through the halting probabilities.
  gru    one GRU layer (batch_first, h0 = 0): torch.nn.GRU with nf's weights copied in, and an
         explicit loop of the gate equations; nf is checked against both.
  scan   Mamba's selective scan (mamba-ssm's selective_scan_ref, without z).
  mamba  one Mamba block (mamba-ssm's Mamba module, slow path, no in/out projection bias):
         output and the gradient of every parameter and of the input.

Usage: .venv/bin/python latent_reference.py PATH/TO/nf_latent_export

The exporter writes <case>.pt (a dict of tensors) and <case>.json (settings) for each case into the
directory it is given. Tolerance 1e-5, relative to the largest magnitude of the reference tensor:
nf computes in fp32 (eps 6e-8) with these small sizes, so a few ulp of the largest values; indices and
halting steps must match exactly. The one allowance is a genuinely ambiguous discrete choice: a
vq row whose nearest two codes are within fp32 rounding of each other, or an act row whose halting
step differs between an fp64 and a sequential fp32 cumulative sum; there nf's choice is accepted
(and counted in the printed line) and the rest of the reference follows it.
"""
import json
import os
import subprocess
import sys
import tempfile

import torch
import torch.nn.functional as F

TOLERANCE = 1e-5
TIE_TOLERANCE = 1e-6  # vq: relative distance gap below which two codes count as tied in fp32


def relative_error(ours, reference):
    return ((ours.double() - reference.double()).abs().max() / reference.double().abs().max().clamp_min(1e-30)).item()


class Checks:
    """Prints one line per check and collects the failures, each prefixed with its case."""

    def __init__(self):
        self.count = 0
        self.failures = []

    def fail(self, case, message):
        self.failures.append(f"{case}: {message}")

    def close(self, case, name, ours, reference, tolerance=TOLERANCE):
        self.count += 1
        reference = reference.detach()
        if ours.shape != reference.shape:
            if ours.numel() == 1 and reference.numel() == 1:  # a 0-dim scalar written as [1]
                ours = ours.reshape(reference.shape)
            else:
                print(f"{case} {name}: shape {list(ours.shape)} != {list(reference.shape)}")
                self.fail(case, f"{name} has shape {list(ours.shape)}, expected {list(reference.shape)}")
                return
        error = relative_error(ours, reference)
        ok = error <= tolerance  # also False for nan
        print(f"{case} {name}: rel err {error:.1e} (tol {tolerance:.0e}){'' if ok else '  FAIL'}")
        if not ok:
            self.fail(case, f"{name} relative error {error:.2e} > {tolerance:.0e}")

    def exact(self, case, name, ours, reference, note=""):
        self.count += 1
        reference = reference.detach()
        if ours.shape != reference.shape:
            print(f"{case} {name}: shape {list(ours.shape)} != {list(reference.shape)}")
            self.fail(case, f"{name} has shape {list(ours.shape)}, expected {list(reference.shape)}")
            return
        wrong = (ours.long() != reference.long()).nonzero().flatten().tolist()
        if wrong:
            print(f"{case} {name}: {len(wrong)} of {reference.numel()} differ  FAIL")
            shown = ", ".join(f"[{i}] {ours.flatten()[i].item()} != {reference.flatten()[i].item()}" for i in wrong[:5])
            self.fail(case, f"{name} differs at {shown}")
        else:
            print(f"{case} {name}: exact{note}")

    def dtypes(self, case, data, integer_names=()):
        self.count += 1
        bad = [f"{name} is {tensor.dtype}" for name, tensor in data.items()
               if tensor.dtype != (torch.int64 if name in integer_names else torch.float32)]
        print(f"{case} dtypes: {'ok' if not bad else 'FAIL ' + ', '.join(bad)}")
        if bad:
            self.fail(case, "wrong dtype: " + ", ".join(bad))


def load(directory, case):
    data = torch.load(os.path.join(directory, f"{case}.pt"), weights_only=False)
    info = json.load(open(os.path.join(directory, f"{case}.json")))
    return data, info


def inputs(data, names):
    """float64 leaf copies of nf's fp32 inputs."""
    return [data[name].double().clone().requires_grad_(True) for name in names]


# --- vq ----------------------------------------------------------------------------------------------

def check_vq(checks, data, info, case="vq"):
    beta, gamma = float(info["beta"]), float(info["gamma"])
    checks.dtypes(case, data, integer_names=("indices",))
    z_in, codebook_in = inputs(data, ("z", "codebook"))
    z, codebook = z_in, codebook_in
    if case == "vq_sphere":
        radius = z_in.shape[1] ** 0.5
        z, codebook = F.normalize(z_in, dim=1) * radius, F.normalize(codebook_in, dim=1) * radius
        # on the sphere the nearest code is the one of highest cosine similarity to the raw z
        cosine = F.normalize(z_in.detach(), dim=1) @ F.normalize(codebook_in.detach(), dim=1).T
        checks.exact(case, "indices == argmax cosine similarity", data["indices"], cosine.argmax(dim=1))
    mask, grad_out = data["row_mask"].double(), data["grad_out"].double()
    # squared euclidean distance of every row to every code, as the sum of squared differences
    distances = ((z.detach()[:, None, :] - codebook.detach()[None, :, :]) ** 2).sum(-1)  # [N, K]
    indices = distances.argmin(dim=1)
    ours = data["indices"]
    ties = 0
    if ours.shape == indices.shape and ours.dtype == torch.int64:
        chosen = indices.clone()
        for n in (ours != indices).nonzero().flatten().tolist():
            k = int(ours[n])
            if 0 <= k < codebook.shape[0]:
                gap = distances[n, k] - distances[n, indices[n]]
                scale = z.detach()[n].pow(2).sum() + codebook.detach()[k].pow(2).sum()
                if gap <= TIE_TOLERANCE * scale:  # nearest two codes within fp32 rounding: both right
                    chosen[n] = k
                    ties += 1
                else:
                    print(f"{case} indices: row {n} nf chose {k} at distance {distances[n, k].item():.6g}, "
                          f"nearest is {int(indices[n])} at {distances[n, indices[n]].item():.6g}")
        indices = chosen
    checks.exact(case, "indices", ours, indices, f" ({ties} near-tied rows, nf's choice accepted)" if ties else "")

    quantized = codebook[indices]
    straight_through = z + (quantized - z).detach()
    commit_sum = (mask[:, None] * (z - quantized.detach()) ** 2).sum()
    codebook_sum = (mask[:, None] * (quantized - z.detach()) ** 2).sum()
    loss = (straight_through * grad_out).sum() + beta * commit_sum + gamma * codebook_sum
    loss.backward()
    checks.close(case, "quantized", data["quantized"], quantized)
    checks.close(case, "straight_through", data["straight_through"], straight_through)
    checks.close(case, "commit_sum", data["commit_sum"], commit_sum)
    checks.close(case, "codebook_sum", data["codebook_sum"], codebook_sum)
    checks.close(case, "grad_z", data["grad_z"], z_in.grad)
    checks.close(case, "grad_codebook", data["grad_codebook"], codebook_in.grad)
    if case == "vq":
        # the straight-through estimator passes grad_out through to z unchanged, plus the commitment term
        identity = grad_out + 2 * beta * mask[:, None] * (z.detach() - quantized.detach())
        checks.close(case, "grad_z == grad_out + 2*beta*mask*(z - quantized)", data["grad_z"], identity)


# --- ema ---------------------------------------------------------------------------------------------

def check_ema(checks, data, info):
    case, decay, epsilon = "ema", float(info["decay"]), float(info["epsilon"])
    checks.dtypes(case, data, integer_names=("indices",))
    z, mask = data["z"].double(), data["row_mask"].double()
    indices, count, total = data["indices"].long(), data["count"].double(), data["sum"].double()
    codes = count.shape[0]
    one_hot = F.one_hot(indices, codes).double() * mask[:, None]  # [N, K], masked rows all zero
    batch_counts = one_hot.sum(0)
    batch_sums = one_hot.t() @ z
    new_count = decay * count + (1 - decay) * batch_counts
    new_sum = decay * total + (1 - decay) * batch_sums
    n = new_count.sum()
    smoothed = (new_count + epsilon) / (n + codes * epsilon) * n
    new_codebook = new_sum / smoothed[:, None]
    seen = batch_counts.sum()
    p = batch_counts / seen if seen > 0 else torch.zeros_like(batch_counts)
    entropy = -torch.where(p > 0, p * p.clamp_min(1e-300).log(), torch.zeros_like(p)).sum()
    perplexity = entropy.exp()
    checks.close(case, "batch_counts", data["batch_counts"], batch_counts)
    checks.close(case, "batch_sums", data["batch_sums"], batch_sums)
    checks.close(case, "new_count", data["new_count"], new_count)
    checks.close(case, "new_sum", data["new_sum"], new_sum)
    checks.close(case, "new_codebook", data["new_codebook"], new_codebook)
    checks.close(case, "perplexity", torch.tensor(float(info["perplexity"]), dtype=torch.float64), perplexity)


# --- act ---------------------------------------------------------------------------------------------

def halting_steps(cumulative, threshold):
    """1-based first step whose cumulative halting probability reaches threshold, else S."""
    reached = cumulative >= threshold
    steps = reached.long().argmax(dim=1) + 1
    return torch.where(reached.any(dim=1), steps, torch.full_like(steps, cumulative.shape[1]))


def check_act(checks, data, info):
    case, threshold = "act", float(info["threshold"])
    checks.dtypes(case, data, integer_names=("steps",))
    (p,) = inputs(data, ("halt_probs",))
    grad_weights = data["grad_weights"].double()
    rows, width = p.shape
    steps = halting_steps(p.detach().cumsum(1), threshold)
    # the same rule on a left-to-right fp32 sum against an fp32 threshold: a row where the two disagree
    # is within rounding of the threshold, and either step is right
    running, cumulative32 = torch.zeros(rows), torch.empty(rows, width)
    for i in range(width):
        running = running + data["halt_probs"][:, i]
        cumulative32[:, i] = running
    steps32 = halting_steps(cumulative32, torch.tensor(threshold, dtype=torch.float32))
    ours = data["steps"]
    ambiguous = 0
    if ours.shape == steps.shape and ours.dtype == torch.int64:
        pick = (ours != steps) & (ours == steps32)
        ambiguous = int(pick.sum())
        steps = torch.where(pick, steps32, steps)
    checks.exact(case, "steps", ours, steps,
                 f" ({ambiguous} rows at the threshold in fp32 rounding, nf's step accepted)" if ambiguous else "")

    position = torch.arange(1, width + 1)[None, :]  # 1-based step index
    before = (position < steps[:, None]).double()
    remainder = 1 - (p * before).sum(1)  # 1 - c_{steps-1}, with c_0 = 0
    weights = p * before + remainder[:, None] * (position == steps[:, None]).double()
    ponder_cost = steps.double() + remainder
    loss = (weights * grad_weights).sum() + ponder_cost.sum()
    loss.backward()
    checks.close(case, "remainder", data["remainder"], remainder)
    checks.close(case, "weights", data["weights"], weights)
    checks.close(case, "ponder_cost", data["ponder_cost"], ponder_cost)
    checks.close(case, "grad_halt_probs", data["grad_halt_probs"], p.grad)
    checks.count += 1
    deviation = (data["weights"].double().sum(1) - 1).abs().max().item()
    ok = deviation <= TOLERANCE
    print(f"{case} weights sum to 1: max |sum-1| {deviation:.1e} (tol {TOLERANCE:.0e}){'' if ok else '  FAIL'}")
    if not ok:
        checks.fail(case, f"a row of weights sums to 1 +- {deviation:.2e}")


# --- gru ---------------------------------------------------------------------------------------------

def gru_loop(x, weight_ih, weight_hh, bias_ih, bias_hh):
    batch, time, _ = x.shape
    hidden = weight_hh.shape[1]
    w_ir, w_iz, w_in = weight_ih.split(hidden)
    w_hr, w_hz, w_hn = weight_hh.split(hidden)
    b_ir, b_iz, b_in = bias_ih.split(hidden)
    b_hr, b_hz, b_hn = bias_hh.split(hidden)
    h = x.new_zeros(batch, hidden)
    outputs = []
    for t in range(time):
        xt = x[:, t]
        r = torch.sigmoid(xt @ w_ir.t() + b_ir + h @ w_hr.t() + b_hr)
        z = torch.sigmoid(xt @ w_iz.t() + b_iz + h @ w_hz.t() + b_hz)
        n = torch.tanh(xt @ w_in.t() + b_in + r * (h @ w_hn.t() + b_hn))
        h = (1 - z) * n + z * h
        outputs.append(h)
    return torch.stack(outputs, dim=1)


def check_gru(checks, data, info):
    case = "gru"
    checks.dtypes(case, data)
    names = ("x", "weight_ih", "weight_hh", "bias_ih", "bias_hh")
    grad_out = data["grad_out"].double()

    # torch.nn.GRU with nf's weights
    x = data["x"].double().clone().requires_grad_(True)
    hidden, size = data["weight_hh"].shape[1], data["x"].shape[2]
    gru = torch.nn.GRU(size, hidden, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        for name in names[1:]:
            getattr(gru, name + "_l0").copy_(data[name].double())
    output, _ = gru(x)
    (output * grad_out).sum().backward()
    torch_grads = {"x": x.grad, **{name: getattr(gru, name + "_l0").grad for name in names[1:]}}

    # the gate equations, step by step
    leaves = inputs(data, names)
    loop_output = gru_loop(*leaves)
    (loop_output * grad_out).sum().backward()
    loop_grads = dict(zip(names, (leaf.grad for leaf in leaves)))

    for label, reference, grads in (("torch.nn.GRU", output, torch_grads), ("loop", loop_output, loop_grads)):
        checks.close(case, f"output vs {label}", data["output"], reference)
        for name in names:
            checks.close(case, f"grad_{name} vs {label}", data[f"grad_{name}"], grads[name])


# --- scan and mamba ----------------------------------------------------------------------------------

def selective_scan(u, delta, A, B, C, D):
    """u, delta [B, Dn, T]; A [Dn, Nst]; B, C [B, Nst, T]; D [Dn] -> y [B, Dn, T]."""
    batch, channels, time = u.shape
    h = u.new_zeros(batch, channels, A.shape[1])
    ys = []
    for t in range(time):
        decay = torch.exp(delta[:, :, t, None] * A[None])  # [B, Dn, Nst]
        h = decay * h + (delta[:, :, t] * u[:, :, t])[:, :, None] * B[:, None, :, t]
        ys.append((h * C[:, None, :, t]).sum(-1) + D[None] * u[:, :, t])
    return torch.stack(ys, dim=-1)


def check_scan(checks, data, info):
    case = "scan"
    checks.dtypes(case, data)
    y = selective_scan(*(data[name].double() for name in ("u", "delta", "A", "B", "C", "D")))
    checks.close(case, "y", data["y"], y)


MAMBA_PARAMETERS = ("in_proj.weight", "conv1d.weight", "conv1d.bias", "x_proj.weight", "dt_proj.weight",
                    "dt_proj.bias", "A_log", "D", "out_proj.weight")


def mamba_block(x, p, d_inner, d_state, d_conv, dt_rank):
    time = x.shape[1]
    xz = x @ p["in_proj.weight"].t()
    xs, z = xz.split(d_inner, dim=-1)
    xs = F.conv1d(xs.transpose(1, 2), p["conv1d.weight"], p["conv1d.bias"], padding=d_conv - 1,
                  groups=d_inner)[..., :time]  # causal: [B, d_inner, T]
    xs = F.silu(xs).transpose(1, 2)  # [B, T, d_inner]
    dt, Bm, Cm = (xs @ p["x_proj.weight"].t()).split([dt_rank, d_state, d_state], dim=-1)
    delta = F.softplus(dt @ p["dt_proj.weight"].t() + p["dt_proj.bias"])  # [B, T, d_inner]
    A = -torch.exp(p["A_log"])
    y = selective_scan(xs.transpose(1, 2), delta.transpose(1, 2), A, Bm.transpose(1, 2), Cm.transpose(1, 2),
                       p["D"])
    y = y.transpose(1, 2) * F.silu(z)
    return y @ p["out_proj.weight"].t()


def check_mamba(checks, data, info):
    case = "mamba"
    d_model, d_state, d_conv = int(info["d_model"]), int(info["d_state"]), int(info["d_conv"])
    d_inner, dt_rank = int(info["expand"]) * d_model, int(info["dt_rank"])
    checks.dtypes(case, data)
    expected = {"x": (data["x"].shape[0], data["x"].shape[1], d_model), "in_proj.weight": (2 * d_inner, d_model),
                "conv1d.weight": (d_inner, 1, d_conv), "conv1d.bias": (d_inner,),
                "x_proj.weight": (dt_rank + 2 * d_state, d_inner), "dt_proj.weight": (d_inner, dt_rank),
                "dt_proj.bias": (d_inner,), "A_log": (d_inner, d_state), "D": (d_inner,),
                "out_proj.weight": (d_model, d_inner)}
    wrong = [f"{name} {list(data[name].shape)} != {list(shape)}" for name, shape in expected.items()
             if tuple(data[name].shape) != shape]
    checks.count += 1
    print(f"{case} shapes from json: {'ok' if not wrong else 'FAIL ' + ', '.join(wrong)}")
    if wrong:
        checks.fail(case, "shapes disagree with the json: " + ", ".join(wrong))
        return
    x, *leaves = inputs(data, ("x",) + MAMBA_PARAMETERS)
    parameters = dict(zip(MAMBA_PARAMETERS, leaves))
    output = mamba_block(x, parameters, d_inner, d_state, d_conv, dt_rank)
    (output * data["grad_out"].double()).sum().backward()
    checks.close(case, "output", data["output"], output)
    checks.close(case, "grad_x", data["grad_x"], x.grad)
    for name in MAMBA_PARAMETERS:
        checks.close(case, f"grad/{name}", data[f"grad/{name}"], parameters[name].grad)


CASES = (("vq", check_vq), ("vq_sphere", lambda checks, data, info: check_vq(checks, data, info, "vq_sphere")),
         ("ema", check_ema), ("act", check_act), ("gru", check_gru), ("scan", check_scan),
         ("mamba", check_mamba))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    torch.set_num_threads(1)
    checks = Checks()
    with tempfile.TemporaryDirectory() as directory:
        subprocess.run([sys.argv[1], directory], check=True)
        for case, check in CASES:
            try:
                data, info = load(directory, case)
                check(checks, data, info)
            except Exception as error:  # a missing file or tensor, a bad shape: a failure of that case
                print(f"{case}: {type(error).__name__}: {error}  FAIL")
                checks.fail(case, f"{type(error).__name__}: {error}")
    for failure in checks.failures:
        print("FAIL", failure)
    if checks.failures:
        print(f"{len(checks.failures)} of {checks.count} checks failed")
        sys.exit(1)
    print(f"all {checks.count} checks passed")


if __name__ == "__main__":
    main()
