"""The bench behind `python bench/run.py`.

- `scenario`: what runs in which order, and the command line (`main`)
- `processes`: starting and stopping lockbot, the bare app, Seam's fake, PostgreSQL databases
- `load`: the sender (a worker process) and the bursts of signed `/lock` commands
- `webhooks`: Seam's webhook deliveries, played by a process of the bench
- `sdk`: Seam's own Python SDK on single attempts
- `results`: what a run measured
- `report`: the figures, the summary table, the warnings each app logged
"""

__all__: list[str] = []
