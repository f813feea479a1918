export const DOCKER_MISSING_HELP = `Slipway needs a running Docker Engine and cannot reach one.
  - Debian/Ubuntu:  sudo apt-get install -y docker.io && sudo systemctl start docker
                    (without systemd:  sudo dockerd >/var/log/dockerd.log 2>&1 &)
  - Other systems:  https://docs.docker.com/engine/install/
  - A remote engine: set DOCKER_HOST (e.g. unix:///var/run/docker.sock or tcp://host:2375).
  - Check it with:  docker info`;
