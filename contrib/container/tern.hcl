# tern's configuration in its container image (/etc/tern/tern.hcl):
# serve /srv on port 8080, log to standard output and error, answer
# health checks on /healthz. Replace it with a volume or a ConfigMap.
worker_processes = "auto"
pid              = "off"
error_log        = "stderr"

# A container stop (SIGQUIT, the image's STOPSIGNAL) lets downloads in
# flight finish for at most this long; keep it below the runtime's stop
# timeout (podman/docker stop -t, Kubernetes'
# terminationGracePeriodSeconds), or the runtime kills them first.
worker_shutdown_timeout = "25s"

http {
  access_log = "stdout"

  server {
    listen = ["8080"]
    root   = "/srv"

    location "= /healthz" {
      health     = true
      access_log = "off"
    }
  }
}
