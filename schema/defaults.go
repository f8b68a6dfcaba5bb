package schema

// Defaults returns the configuration used for every field Kong leaves out.
// It is the only place defaults are written down: the Kong schema printed by
// -dump and the configuration reference read them from here.
func Defaults() Config {
	return Config{
		ConnectTimeout: 1000,
		SendTimeout:    5000,
		ReadTimeout:    5000,
		HeaderType:     "preserve",
		SamplingRate:   1,
		// Kong's default is parent_drop_probability_fallback, which
		// re-samples a caller's sampled trace and breaks it (Kong/kong#13015).
		SamplingStrategy: SamplingParentProbabilityFallback,
		Queue: Queue{
			// Kong's opentelemetry plugin overrides the generic queue's batch
			// size of 1 with 200 (3.6.1+); the rest are the generic defaults,
			// except max_bytes, which Kong leaves unbounded and we do not.
			MaxBatchSize:       200,
			MaxCoalescingDelay: 1,
			MaxEntries:         10000,
			MaxBytes:           32 << 20,
			InitialRetryDelay:  0.01,
			MaxRetryTime:       60,
			MaxRetryDelay:      60,
			ConcurrencyLimit:   1,
			BreakerCooldown:    60,
		},
		Metrics:     Metrics{PushInterval: 60},
		AccessLogs:  AccessLogs{SamplingRate: 1},
		Propagation: Propagation{DefaultFormat: FormatW3C},

		Exporter:      ExporterOTLP,
		Protocol:      ProtocolHTTPProtobuf,
		Compression:   CompressionNone,
		TLSVerify:     true,
		FileMaxBytes:  100 << 20,
		FileMaxFiles:  5,
		StdoutFormat:  StdoutText,
		SpoolMaxBytes: 256 << 20,
		Kafka:         defaultKafka(),

		SpanName:     SpanNameMethodRoute,
		TailSampling: TailSampling{StatusCodeMin: 500},
		RedactQueryParams: []string{
			"access_token", "api_key", "apikey", "auth", "client_secret", "code",
			"id_token", "key", "password", "passwd", "pwd", "refresh_token",
			"secret", "sig", "signature", "token", "x-amz-credential",
			"x-amz-security-token", "x-amz-signature",
			// The semantic conventions' list for url.query and url.full.
			"awsaccesskeyid", "x-goog-signature",
		},
		MaxAttributes:           128,
		MaxAttributeValueLength: 2048,
		HTTPKnownMethods:        HTTPKnownMethods(),

		RemoteSampling: RemoteSampling{PollInterval: 60},
	}
}

// HTTPKnownMethods returns the HTTP semantic conventions' default known
// methods: RFC 9110's, PATCH (RFC 5789) and QUERY. Any other method is
// exported as _OTHER.
func HTTPKnownMethods() []string {
	return []string{"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY", "TRACE"}
}

// AlwaysRedactedHeaders are never exported, whatever the configuration says.
var AlwaysRedactedHeaders = []string{
	"authorization", "proxy-authorization", "cookie", "set-cookie",
}
