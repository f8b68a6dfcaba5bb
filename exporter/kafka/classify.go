package kafka

import (
	"crypto/tls"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
)

// permanentErrors are the broker answers that retrying the same messages
// cannot fix: a message too large for the topic (after the exporter's own
// splitting: the topic's max.message.bytes is below kafka.max_message_bytes),
// records or settings the broker refuses, and authentication or
// authorization failures (credentials and ACLs do not change by waiting).
var permanentErrors = []*kerr.Error{
	kerr.MessageTooLarge,
	kerr.RecordListTooLarge,
	kerr.InvalidRecord,
	kerr.InvalidTopicException,
	kerr.InvalidRequiredAcks,
	kerr.PolicyViolation,
	kerr.UnsupportedVersion,
	kerr.UnsupportedCompressionType,
	kerr.TopicAuthorizationFailed,
	kerr.ClusterAuthorizationFailed,
	kerr.SaslAuthenticationFailed,
	kerr.UnsupportedSaslMechanism,
	kerr.IllegalSaslState,
}

// isPermanent reports whether a record's failure is final. Everything else
// is transient and left to the pipeline's backoff: Kafka's retriable errors
// (NOT_LEADER_FOR_PARTITION, NOT_ENOUGH_REPLICAS, REQUEST_TIMED_OUT,
// UNKNOWN_TOPIC_OR_PARTITION while a topic is being created...), producer
// state errors franz-go recovers from by resetting its producer id,
// connection failures, and the attempt's deadline. A broker certificate
// that does not verify is permanent, as for the other backends.
func isPermanent(err error) bool {
	for _, p := range permanentErrors {
		if errors.Is(err, p) {
			return true
		}
	}
	var cert *tls.CertificateVerificationError
	return errors.As(err, &cert)
}
