"""The lab's control plane: one process, separate components.

- :mod:`.lb` — load balancer (ALB + target group): round-robin reverse proxy on the ``lb``
  port, active health checks, target registration;
- :mod:`.supervisor` — ECS service scheduler: starts replicas through the agent, restarts dead
  ones with backoff and records each restart;
- :mod:`.autoscaler` — Application Auto Scaling on the LB's request rate, with an imposable
  capacity limit;
- :mod:`.database` — the DB endpoint that follows failover (``api->db`` link repointed);
- :mod:`.app` — the control API on the ``control`` port and the process entry point.
"""
