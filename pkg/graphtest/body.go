package graphtest

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"strings"
)

// maxBodyBytes bounds a request body, both as sent and, for a compressed body, once decompressed;
// the entity's JSON is a few hundred bytes.
const maxBodyBytes = 1 << 20

// errBodyTooLarge is a body over maxBodyBytes, as sent or once decompressed.
var errBodyTooLarge = errors.New("graphtest: request body too large")

// errUnsupportedEncoding is a Content-Encoding other than gzip or identity.
var errUnsupportedEncoding = errors.New("graphtest: unsupported Content-Encoding")

// errNotGzip is a body marked gzip that does not decompress.
var errNotGzip = errors.New("graphtest: the body is not valid gzip data")

// readBody reads a request body the way Graph's gateway hands it on: a body with
// Content-Encoding: gzip (what Microsoft's SDKs send by default) is decompressed. Only gzip is
// taken, since that is the one encoding the SDKs use; identity (or no header) means plain. The limit
// applies to the decompressed size too, so that a small gzip bomb is refused rather than inflated.
// raw is what was read off the wire (for the request log when decompression fails).
func readBody(w http.ResponseWriter, r *http.Request) (body, raw []byte, err error) {
	encoding, err := contentEncoding(r.Header.Values("Content-Encoding"))
	if err != nil {
		return nil, nil, err
	}
	raw, err = io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, raw, errBodyTooLarge
		}
		return nil, raw, err // the client went away
	}
	if encoding != "gzip" {
		return raw, raw, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, raw, errNotGzip
	}
	body, err = io.ReadAll(io.LimitReader(zr, maxBodyBytes+1))
	switch {
	case err != nil:
		return nil, raw, errNotGzip
	case len(body) > maxBodyBytes:
		return nil, raw, errBodyTooLarge
	}
	return body, raw, nil
}

// contentEncoding returns "gzip" or "" (no encoding) for the Content-Encoding header's values, and
// errUnsupportedEncoding for any other coding or a stack of codings.
func contentEncoding(values []string) (string, error) {
	var codings []string
	for _, v := range values {
		for _, c := range strings.Split(v, ",") {
			if c = strings.ToLower(strings.TrimSpace(c)); c != "" && c != "identity" {
				codings = append(codings, c)
			}
		}
	}
	switch {
	case len(codings) == 0:
		return "", nil
	case len(codings) == 1 && (codings[0] == "gzip" || codings[0] == "x-gzip"):
		return "gzip", nil
	default:
		return "", errUnsupportedEncoding
	}
}

// writeBodyError answers a body that readBody refused; it returns 0 when the client went away.
func writeBodyError(w http.ResponseWriter, err error) int {
	switch {
	case errors.Is(err, errBodyTooLarge):
		return writeGraphError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "The request body is larger than the emulator accepts.")
	case errors.Is(err, errUnsupportedEncoding):
		return writeGraphError(w, http.StatusUnsupportedMediaType, "UnsupportedMediaType", "The Content-Encoding of the request body is not supported; use gzip or none.")
	case errors.Is(err, errNotGzip):
		return writeGraphError(w, http.StatusBadRequest, "BadRequest", "Unable to decompress the request body: it is marked Content-Encoding: gzip but is not valid gzip data.")
	default:
		return 0
	}
}
