"""nf's sentencepiece wrapper == the sentencepiece Python package, on a model trained at test time.

Trains a small BPE and a small unigram model with SentencePieceTrainer on the real corpora,
encodes a sample with `nf-shard tokenizer encode`, and compares ids with
SentencePieceProcessor.encode; also checks the vocabulary size and special ids `info` reports.

usage: test_sentencepiece_ids.py NF_SHARD CORPUS_DIR WORK_DIR
"""
import os
import subprocess
import sys

import sentencepiece as spm


def main():
    nf_shard, corpus, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    with open(os.path.join(corpus, "bible.txt"), encoding="utf-8") as f:
        bible = f.read()
    with open(os.path.join(corpus, "chinese.txt"), encoding="utf-8") as f:
        chinese = f.read()
    train_path = os.path.join(work, "train.txt")
    with open(train_path, "w", encoding="utf-8") as f:
        f.write(bible[:1_500_000] + chinese[:500_000])
    samples = [bible[3_000_000:3_040_000], chinese[600_000:640_000], "I'm here,  <s> 😀 ½ 全角\u3000x\n"]
    failures = 0
    for model_type in ("bpe", "unigram"):
        prefix = os.path.join(work, model_type)
        spm.SentencePieceTrainer.train(input=train_path, model_prefix=prefix, vocab_size=4000, model_type=model_type,
                                       character_coverage=0.995, pad_id=3, minloglevel=2,
                                       user_defined_symbols=["<|user|>", "<|end|>"])
        processor = spm.SentencePieceProcessor(model_file=prefix + ".model")
        for index, sample in enumerate(samples):
            encoded = subprocess.run([nf_shard, "tokenizer", "encode", "--tokenizer", prefix + ".model", "--text", sample],
                                     check=True, capture_output=True, text=True).stdout
            ours = [int(x) for x in encoded.split()]
            reference = processor.encode(sample)
            status = "identical" if ours == reference else "MISMATCH"
            failures += ours != reference
            print(f"{model_type} sample {index}: {len(ours)} ids {status}")
        info = subprocess.run([nf_shard, "tokenizer", "info", prefix + ".model"], check=True, capture_output=True,
                              text=True).stdout
        expected = [f"vocab_size   {processor.get_piece_size()}", f"bos = {processor.bos_id()} <s>",
                    f"eos = {processor.eos_id()} </s>", f"user = {processor.piece_to_id('<|user|>')} <|user|>"]
        for line in expected:
            if line not in info:
                failures += 1
                print(f"{model_type}: info lacks '{line}':\n{info}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
