"""The tokenizer.json nf writes, loaded by the real tokenizers and transformers (issue 15).

1. `nf-shard tokenizer train` on the KJV (Genesis-Exodus) and the Tang poems, once per split
   pattern (gpt2, llama3, qwen2); `tokenizers.Tokenizer.from_file(tokenizer.json)`:
   - encodes real text it was not trained on (Psalms 1-40, the Song poems, a few edge cases) to the
     ids `nf-shard tokenizer encode` prints, and decodes them back to the text;
   - has nf's vocabulary: the same size, each id the token the file gives it (model.vocab and
     added_tokens), each special at the id `nf-shard tokenizer info` prints.
2. The export of prepare_checkpoints.sh (nf-ckpt export-hf takes the training dataset's
   tokenizer): `transformers.AutoTokenizer.from_pretrained(export)` encodes the same text to
   nf-shard's ids (a plain call, as a user makes it), decodes it back, knows the specials' ids and
   names nf's bos, eos and pad tokens, config.json and generation_config.json give transformers
   nf's bos and eos ids, and its encoding of the Genesis text plus <|eos|> is the token stream
   nf-shard build wrote (h5py).

Usage: check_tokenizers.py NF_SHARD FIXTURE_DIR WORK_DIR
"""
import json
import os
import re
import subprocess
import sys

import h5py
import numpy as np
import tokenizers
import transformers
from transformers import AutoTokenizer

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def bible(passages):
    text = subprocess.run(["bible", "-f", passages], check=True, capture_output=True, text=True).stdout
    return "".join(line.split(" ", 1)[1] + "\n" for line in text.splitlines() if " " in line)


def poems(name):
    with open(f"/usr/share/games/fortunes/{name}", encoding="utf-8") as f:
        return ANSI.sub("", f.read()).replace("\x1b", "")


def nf_ids(nf_shard, tokenizer, path):
    out = subprocess.run([nf_shard, "tokenizer", "encode", "--tokenizer", tokenizer, "--input", path], check=True,
                         capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def nf_info(nf_shard, tokenizer):
    """(vocab_size, {special token: id}, {role: (id, token)}) from nf-shard tokenizer info."""
    out = subprocess.run([nf_shard, "tokenizer", "info", tokenizer], check=True, capture_output=True, text=True).stdout
    vocab = int(re.search(r"^vocab_size +(\d+)$", out, re.M).group(1))
    found = re.findall(r"^special +(\w+) = (\d+) (\S+)$", out, re.M)
    return vocab, {token: int(i) for _, i, token in found}, {role: (int(i), token) for role, i, token in found}


def declared_tokens(path):
    """{id: token} as tokenizer.json writes them: model.vocab and added_tokens."""
    doc = json.load(open(path, encoding="utf-8"))
    declared = {i: token for token, i in doc["model"]["vocab"].items()}
    for added in doc["added_tokens"]:
        assert declared.setdefault(added["id"], added["content"]) == added["content"], added
    return declared


def first_difference(ours, theirs):
    at = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
    return f"first difference at id {at} of {len(ours)} / {len(theirs)}: nf {ours[at:at + 6]} vs {theirs[at:at + 6]}"


def check_tokenizers_library(nf_shard, work, sample_path, text):
    failures = []
    corpus = os.path.join(work, "corpus.txt")
    with open(corpus, "w", encoding="utf-8") as f:
        f.write(bible("Gen1:1-Exo40:38") + poems("tang300"))
    for pattern in ("gpt2", "llama3", "qwen2"):
        directory = os.path.join(work, pattern)
        subprocess.run([nf_shard, "tokenizer", "train", "--vocab-size", "1500", "--pre-tokenizer", pattern, "--input",
                        corpus, "--out", directory, "--threads", "1"], check=True, stdout=subprocess.DEVNULL)
        ours = nf_ids(nf_shard, directory, sample_path)
        vocab, specials, _ = nf_info(nf_shard, directory)
        path = os.path.join(directory, "tokenizer.json")
        tokenizer = tokenizers.Tokenizer.from_file(path)
        theirs = tokenizer.encode(text).ids
        problems = []
        if theirs != ours:
            problems.append(f"encode: {first_difference(ours, theirs)}")
        decoded = tokenizer.decode(ours, skip_special_tokens=False)
        if decoded != text:
            at = next((i for i, (a, b) in enumerate(zip(decoded, text)) if a != b), min(len(decoded), len(text)))
            problems.append(f"decode(nf's ids) differs from the text at character {at}: {decoded[at:at + 30]!r} vs "
                            f"{text[at:at + 30]!r}")
        if tokenizer.get_vocab_size() != vocab:
            problems.append(f"vocabulary of {tokenizer.get_vocab_size()} ids, nf's has {vocab}")
        declared = declared_tokens(path)
        wrong = [(i, declared.get(i), tokenizer.id_to_token(i)) for i in range(vocab)
                 if tokenizer.id_to_token(i) != declared.get(i)]
        if wrong:
            problems.append(f"{len(wrong)} ids are other tokens than tokenizer.json gives them, "
                            f"(id, file, tokenizers): {wrong[:4]}")
        moved = {token: (i, tokenizer.token_to_id(token)) for token, i in specials.items()
                 if tokenizer.token_to_id(token) != i}
        if moved:
            problems.append(f"specials at other ids (nf, tokenizers): {moved}")
        print(f"tokenizers {pattern:<6}: {len(ours)} ids of {len(text.encode())} bytes "
              f"{'identical' if theirs == ours else 'DIFFER'}, decode {'ok' if decoded == text else 'DIFFERS'}, "
              f"{vocab - len(wrong)}/{vocab} ids the file's tokens, {len(specials) - len(moved)}/{len(specials)} "
              f"specials at nf's ids")
        failures += [f"{pattern}: {p}" for p in problems]
    return failures


def check_auto_tokenizer(nf_shard, fixture, sample_path, text):
    failures = []
    export = os.path.join(fixture, "tied_gqa_tp2", "hf")
    tokenizer = AutoTokenizer.from_pretrained(export)
    ours = nf_ids(nf_shard, os.path.join(fixture, "tok"), sample_path)
    vocab, specials, roles = nf_info(nf_shard, os.path.join(fixture, "tok"))
    theirs = tokenizer(text)["input_ids"]
    if theirs != ours:
        failures.append(f"AutoTokenizer: {first_difference(ours, theirs)}")
    if tokenizer.decode(ours) != text:
        failures.append("AutoTokenizer: decode(nf's ids) is not the text")
    if len(tokenizer) != vocab:
        failures.append(f"AutoTokenizer: {len(tokenizer)} ids, nf's tokenizer has {vocab}")
    moved = {token: (i, tokenizer.convert_tokens_to_ids(token)) for token, i in specials.items()
             if tokenizer.convert_tokens_to_ids(token) != i}
    if moved:
        failures.append(f"AutoTokenizer: specials at other ids (nf, transformers): {moved}")
    # The export says which tokens begin, end and pad (generate() stops at eos_token_id, batches pad with pad_token).
    named = {role: (getattr(tokenizer, f"{role}_token_id"), getattr(tokenizer, f"{role}_token"))
             for role in ("bos", "eos", "pad")}
    if named != {role: roles[role] for role in named}:
        failures.append(f"AutoTokenizer's (id, token) of bos, eos, pad are {named}, nf's tokenizer has "
                        f"{ {role: roles[role] for role in named} }")
    config = transformers.AutoConfig.from_pretrained(export)
    generation = transformers.GenerationConfig.from_pretrained(export)
    for what, ids in (("config.json", (config.bos_token_id, config.eos_token_id)),
                      ("generation_config.json", (generation.bos_token_id, generation.eos_token_id))):
        if ids != (roles["bos"][0], roles["eos"][0]):
            failures.append(f"{what} gives transformers (bos_token_id, eos_token_id) = {ids}, nf's tokenizer has "
                            f"{(roles['bos'][0], roles['eos'][0])}")
    # nf-shard build's pretraining document of a plain-text file: its paragraph's text, then <|eos|>.
    manifest = json.load(open(os.path.join(fixture, "data", "manifest.json")))
    stream = np.concatenate([h5py.File(os.path.join(fixture, "data", s["file"]), "r")["tokens"][:]
                             for s in manifest["splits"]["train"]["shards"]]).tolist()
    genesis = open(os.path.join(fixture, "genesis.txt"), encoding="utf-8").read().strip("\n")
    expected = tokenizer(genesis)["input_ids"] + [specials["<|eos|>"]]
    if stream != expected:
        failures.append(f"the dataset's tokens are not AutoTokenizer's of the text + <|eos|>: "
                        f"{first_difference(stream, expected)}")
    print(f"AutoTokenizer ({type(tokenizer).__name__}, {len(tokenizer)} ids) of the export: {len(theirs)} ids "
          f"{'identical to' if theirs == ours else 'DIFFER from'} nf-shard's; the dataset's {len(stream)} tokens "
          f"{'equal' if stream == expected else 'DIFFER from'} its encoding of the Genesis text + <|eos|>; "
          f"specials {tokenizer.special_tokens_map or '(none named)'}")
    return failures


def main():
    nf_shard, fixture, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    song = poems("song100")
    text = (bible("Ps1:1-Ps40:17") + song[:song.index("%", 2000)] +
            "I'm here,  they'LL SAY: don't!\n\n\t  x 1234567 ½ naïve\u3000全角\u00a0nbsp emoji 😀 end.\r\n  \n")
    sample_path = os.path.join(work, "sample.txt")
    with open(sample_path, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    failures = check_tokenizers_library(nf_shard, work, sample_path, text)
    failures += check_auto_tokenizer(nf_shard, fixture, sample_path, text)
    for failure in failures:
        print("FAIL", failure)
    print(f"tokenizers {tokenizers.__version__}, transformers {transformers.__version__}: "
          f"{'FAIL' if failures else 'ok'}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
