"""How closely lstmviz's activations match torch.nn.LSTM, stepped one character at a time.

Runs a seeded random CharLSTM over random tokens in blocks (so state crosses block boundaries),
then steps a one-layer ``nn.LSTM`` per layer through the same inputs one character at a time to get
its own h and c at every step, and prints the largest differences.

Usage:
    python benchmarks/agreement.py --layers 3 --hidden 64 --steps 5000 --block 1111
"""

import argparse

import torch

from lstmviz.model.charlstm import CharLSTM
from lstmviz.model.config import LSTMConfig
from lstmviz.model.runner import UnrolledLSTM
from lstmviz.names import act_name


def stepped_reference(model: CharLSTM, tokens: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every layer's h and c from nn.LSTM itself, one step per call."""
    cfg = model.config
    x = model.inputs(tokens)  # (1, T, E)
    out = {}
    for layer in range(cfg.n_layer):
        lstm = torch.nn.LSTM(x.shape[-1], cfg.n_hidden, 1, batch_first=True)
        for part in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(lstm, f"{part}_l0").data.copy_(getattr(model.lstm, f"{part}_l{layer}"))
        hs, cs, state = [], [], None
        for t in range(x.shape[1]):
            _, state = lstm(x[:, t : t + 1], state)
            hs.append(state[0][0])
            cs.append(state[1][0])
        out[act_name(layer, "h")], out[act_name(layer, "c")] = torch.stack(hs, 1), torch.stack(cs, 1)
        x = out[act_name(layer, "h")]
    return out


@torch.no_grad()
def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--vocab", type=int, default=60)
    p.add_argument("--steps", type=int, default=5000)
    p.add_argument("--block", type=int, default=1111, help="block length; state crosses blocks")
    args = p.parse_args()
    torch.manual_seed(0)
    for n_embd, label in ((None, "one-hot"), (32, "embedding")):
        model = CharLSTM(LSTMConfig(args.vocab, args.layers, args.hidden, n_embd)).eval()
        tokens = torch.randint(0, args.vocab, (1, args.steps))
        run, state, blocks = UnrolledLSTM(model), None, []
        for start in range(0, args.steps, args.block):
            out, state = run(tokens[:, start : start + args.block], state)
            blocks.append(out.acts)
        ours = {k: torch.cat([b[k] for b in blocks], 1) for k in blocks[0]}
        ref = stepped_reference(model, tokens)
        h_err = max((ours[k] - ref[k]).abs().max().item() for k in ref if k.endswith(".h"))
        c_err = max(((ours[k] - ref[k]).abs() / ref[k].abs().clamp(min=1)).max().item()
                    for k in ref if k.endswith(".c"))
        print(f"{label:9} input, {args.layers} x {args.hidden}, {args.steps} steps in blocks of "
              f"{args.block}: max |h - nn.LSTM h| = {h_err:.2e}, max relative c error = {c_err:.2e}")


if __name__ == "__main__":
    main()
