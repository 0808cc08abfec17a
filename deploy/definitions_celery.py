"""A code location for a Celery deployment: the same `sop_cycle` job, each step a Celery task.

Example only (not run in the tests: no broker here). Needs `pip install dagster-celery` on the
launching machine and on every worker (`dagster-celery worker start -A dagster_celery.app`), a broker
(RabbitMQ or Redis), the warehouse and the Dagster instance on PostgreSQL, and a `<data dir>` and step
storage every worker sees (a shared volume mounted at the same path: on PostgreSQL the fan-out's IO
manager `fanout_io` pickles the parts' values under the instance's storage folder).

    dagster dev -m deploy.definitions_celery     # or the webserver + daemon of a team server
    # run config:
    execution:
      config:
        broker: pyamqp://guest@rabbit//
        backend: rpc://
"""

from dagster_celery import celery_executor

from sop_pipeline.definitions import build_defs, settings

defs = build_defs(settings, executor=celery_executor)
