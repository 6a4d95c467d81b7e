"""The records of a run's metrics.jsonl without the timings, one line each, every value to the bit
(%.17g), for the test scripts to compare with diff or read back (tests/lib/preamble.sh's
metrics_records):
  STEP V1 V2 ...       each training record (a record with "loss"): the values of --keys
  val STEP VAL_LOSS    each validation, with --val prefix
  STEP val VAL_LOSS    each validation, with --val infix
usage: metrics_records.py METRICS [--keys loss,grad_norm] [--val prefix|infix]
"""
import argparse
import json


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("metrics", help="a run's metrics.jsonl")
    parser.add_argument("--keys", default="loss,grad_norm", help="the values of a training record, comma-separated")
    parser.add_argument("--val", choices=("prefix", "infix"), help="also print the validation losses, so placed")
    args = parser.parse_args()
    keys = args.keys.split(",")
    for line in open(args.metrics):
        record = json.loads(line)
        if "loss" in record:
            print(record["step"], *("%.17g" % record[key] for key in keys))
        if args.val == "prefix" and "val_loss" in record:
            print("val", record["step"], "%.17g" % record["val_loss"])
        if args.val == "infix" and "val_loss" in record:
            print(record["step"], "val", "%.17g" % record["val_loss"])


if __name__ == "__main__":
    main()
