"""Jobs: the double lock. A researcher's code runs on the synthetic twin (lock 1) and, once
submitted under an approved project, inside the node on a project view in a sandboxed process
(lock 2); only outputs made through ``joinedup.research``'s typed calls leave, after
``joinedup.outputs`` checks them.

Public surface: ``run_synthetic``, ``submit_job``, ``read_job``, ``find_job``, ``JobRecord``,
``JobState``, ``load_job``, ``JobSpec``, ``isolation_problem``.
"""

from joinedup.jobs.runner import JobRecord, JobState, find_job, read_job, run_synthetic, submit_job
from joinedup.jobs.sandbox import isolation_problem
from joinedup.jobs.spec import JobSpec, load_job

__all__ = [
    "JobRecord",
    "JobSpec",
    "JobState",
    "find_job",
    "isolation_problem",
    "load_job",
    "read_job",
    "run_synthetic",
    "submit_job",
]
