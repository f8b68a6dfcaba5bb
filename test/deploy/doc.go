// Package deploy holds the tests of the deployment files: docker/Dockerfile,
// docker/echo, docker/docker-compose.yml, docker/jaeger.yml, kong.yml and
// its compose variant docker/kong.yml, and the fleet profile docker/fleet
// (Kong nodes → Kafka → Jaeger, and the collector tier). No Docker engine
// runs here, so each file is checked as far as this machine allows: compose with Debian's
// docker-compose, the Dockerfiles by parsing them and running their build
// steps and the resulting binaries, Jaeger's config with the real Jaeger,
// every plugin config with the Kong emulator's schema check and the plugin's
// own decoder, and the whole topology on loopback with the Kong emulator in
// Kong's place (for the fleet, an in-process Kafka broker in Kafka's; the
// Collector contrib image's load balancer cannot run here and is checked
// against the files it connects to, while the tail-sampling config runs in
// the real Jaeger binary, which ships the same processor).
//
// Regenerate docker/kong.yml after editing kong.yml with
//
//	go test ./test/deploy -run TestDockerKongYML -update
package deploy
