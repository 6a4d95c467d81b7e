"""nf's scaling benchmark suite (issue #18; docs/scaling.md): a sweep described in YAML
(configs/bench/), run point by point on one box under mpirun or as Slurm jobs, every point one JSON
line in results.jsonl, CSVs and a report with PNG plots made from them.

Modules, in the order a sweep goes through them:
  sweep     the YAML file -> the list of points (validated, each with a stable id); a copy of
            it is kept in the results directory for `report`
  machine   what a record says about where and from what it ran (commit, host, CPU/GPU, versions)
  store     results.jsonl (appended under a lock), the "already measured" test, the CSVs
  launch    how ranks start: mpirun on one box, srun inside a Slurm allocation
  inputs    what points share: the corpus, its tokenizer and dataset, built once per sweep
  points_io, points_train
            running one point of each kind (calibrate, comm, loader, data, checkpoint; train: nf, peer)
  figures   what is derived across points: efficiency, nf / peer, calibration
  report    report.md: its tables; plots: its PNGs
  slurm     the job-array form: one job per point, then a gather job
"""
