package kafka

import (
	"bytes"
	"crypto/tls"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/exporter/internal/exportertest"
	"github.com/trace-exporter/trace-exporter/schema"
	"github.com/trace-exporter/trace-exporter/test/kafkatest"
)

const (
	saslUser     = "kong-node"
	saslPassword = "pw-7f3a9c1e-never-logged"
)

// saslBroker requires SASL; the user exists for every mechanism, and an
// admin reads.
func saslBroker(t *testing.T, opts ...kfake.Opt) *kafkatest.Broker {
	return startBroker(t, 2, append([]kfake.Opt{kfake.EnableSASL(),
		kfake.Superuser("SCRAM-SHA-256", "admin", "admin"),
		kfake.Superuser("PLAIN", saslUser, saslPassword),
		kfake.Superuser("SCRAM-SHA-256", saslUser, saslPassword),
		kfake.Superuser("SCRAM-SHA-512", saslUser, saslPassword),
	}, opts...)...)
}

func adminSASL() kgo.Opt {
	return kgo.SASL(scram.Auth{User: "admin", Pass: "admin"}.AsSha256Mechanism())
}

func TestSASLMechanisms(t *testing.T) {
	b := saslBroker(t)
	c := kafkatest.NewConsumer(t, b.Addr(), topic, adminSASL())
	for i, m := range []schema.SASLMechanism{schema.SASLPlain, schema.SASLScramSHA256, schema.SASLScramSHA512} {
		t.Run(string(m), func(t *testing.T) {
			cfg := kafkaConfig(b.Addr())
			cfg.Kafka.SASL = schema.KafkaSASL{Mechanism: m, Username: saslUser, Password: saslPassword}
			if err := export(t, newTestExporter(t, cfg), uniqueTraces(2, byte(30+i))); err != nil {
				t.Fatal(err)
			}
			c.WaitRecords(t, i+1, 10*time.Second)
		})
	}
}

// logBuffer collects a logger's output at debug level, franz-go's included.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// refuseSASL answers every SASL authentication as Kafka does when the
// credentials are wrong (kfake itself just closes the connection).
func refuseSASL(c *kfake.Cluster) {
	c.ControlKey(int16(kmsg.SASLAuthenticate), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		resp := req.(*kmsg.SASLAuthenticateRequest).ResponseKind().(*kmsg.SASLAuthenticateResponse)
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		msg := "Authentication failed: Invalid username or password"
		resp.ErrorMessage = &msg
		return resp, nil, true
	})
}

// Bad credentials are a permanent failure (the pipeline does not retry:
// waiting does not fix them), and the password appears in no log line, not even at
// debug level, nor in the error.
func TestBadCredentialsArePermanentAndThePasswordIsNeverLogged(t *testing.T) {
	b := saslBroker(t)
	refuseSASL(b.Cluster())
	for _, m := range []schema.SASLMechanism{schema.SASLPlain, schema.SASLScramSHA512} {
		t.Run(string(m), func(t *testing.T) {
			logs := &logBuffer{}
			cfg := kafkaConfig(b.Addr())
			wrong := saslPassword + "-wrong"
			cfg.Kafka.SASL = schema.KafkaSASL{Mechanism: m, Username: saslUser, Password: wrong}
			exp, err := exporter.New(cfg, exporter.Settings{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			if err != nil {
				t.Fatal(err)
			}
			defer exp.Shutdown(t.Context())
			err, took := timedExport(t, exp.(*kafkaExporter), uniqueTraces(2, 40))
			if !exporter.IsPermanent(err) {
				t.Fatalf("wrong password: %v, want a permanent error", err)
			}
			if took > attempt+slack { // franz-go retries the refused connection until the deadline
				t.Errorf("took %s", took)
			}
			if logs.String() == "" {
				t.Error("no debug log at all: the check below proves nothing")
			}
			for _, secret := range []string{wrong, saslPassword} {
				if strings.Contains(logs.String(), secret) || strings.Contains(err.Error(), secret) {
					t.Fatalf("the password leaked:\n%s\n%v", logs, err)
				}
			}
		})
	}
}

// TLS through kafka.tls and the tls_* fields: server verification with
// tls_ca_file, mTLS with a client certificate, SASL over TLS; a broker
// certificate that does not verify is a permanent failure.
func TestTLS(t *testing.T) {
	pki := exportertest.NewPKI(t)
	clientTLS := kgo.DialTLSConfig(&tls.Config{RootCAs: pki.CAPool, Certificates: []tls.Certificate{}})
	t.Run("verified", func(t *testing.T) {
		b := startBroker(t, 1, kfake.TLS(pki.ServerConfig(false)))
		cfg := kafkaConfig(b.Addr())
		cfg.Kafka.TLS, cfg.TLSCAFile = true, pki.CAFile
		if err := export(t, newTestExporter(t, cfg), uniqueTraces(2, 41)); err != nil {
			t.Fatal(err)
		}
		kafkatest.NewConsumer(t, b.Addr(), topic, clientTLS).WaitRecords(t, 1, 10*time.Second)
	})
	t.Run("mTLS and SCRAM", func(t *testing.T) {
		b := saslBroker(t, kfake.TLS(pki.ServerConfig(true)))
		cfg := kafkaConfig(b.Addr())
		cfg.Kafka.TLS, cfg.TLSCAFile = true, pki.CAFile
		cfg.TLSClientCertFile, cfg.TLSClientKeyFile = pki.ClientCert, pki.ClientKey
		cfg.Kafka.SASL = schema.KafkaSASL{Mechanism: schema.SASLScramSHA512, Username: saslUser, Password: saslPassword}
		if err := export(t, newTestExporter(t, cfg), uniqueTraces(2, 42)); err != nil {
			t.Fatal(err)
		}
		cert, err := tls.LoadX509KeyPair(pki.ClientCert, pki.ClientKey)
		if err != nil {
			t.Fatal(err)
		}
		kafkatest.NewConsumer(t, b.Addr(), topic, adminSASL(),
			kgo.DialTLSConfig(&tls.Config{RootCAs: pki.CAPool, Certificates: []tls.Certificate{cert}})).WaitRecords(t, 1, 10*time.Second)
	})
	t.Run("unverified certificate", func(t *testing.T) {
		b := startBroker(t, 1, kfake.TLS(pki.ServerConfig(false)))
		cfg := kafkaConfig(b.Addr())
		cfg.Kafka.TLS, cfg.TLSCAFile = true, pki.OtherCAFile
		err, took := timedExport(t, newTestExporter(t, cfg), uniqueTraces(2, 43))
		if !exporter.IsPermanent(err) || took > attempt+slack {
			t.Fatalf("a certificate that does not verify: %v after %s, want a permanent error", err, took)
		}
	})
	t.Run("plaintext client, TLS broker", func(t *testing.T) {
		b := startBroker(t, 1, kfake.TLS(pki.ServerConfig(false)))
		err, took := timedExport(t, newTestExporter(t, kafkaConfig(b.Addr())), uniqueTraces(2, 44))
		if err == nil || took > attempt+slack {
			t.Fatalf("plaintext to a TLS listener: %v after %s, want a failure within the attempt", err, took)
		}
	})
}
