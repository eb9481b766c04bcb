package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"unicode/utf8"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// Configuration is a device configuration as the list serves it: its id and display name.
type Configuration struct {
	// ID is the device configuration's id, what a resource's spec.deviceConfigurationId names.
	ID string `json:"id"`
	// DisplayName is the name shown in Intune.
	DisplayName string `json:"displayName"`
}

// configurationPage is one page of the list as Graph serves it.
type configurationPage struct {
	Value    []Configuration `json:"value"`
	NextLink string          `json:"@odata.nextLink"`
}

// errMalformedList is the cause of an *Error for a page that is not a page of the list.
var errMalformedList = errors.New("response body is not a valid page of device configurations")

// listSeq makes the pacer keys of list pages unique: two lists of one tenant must not take each
// other's place in the line.
var listSeq atomic.Uint64

// List reads every device configuration of the tenant (GET
// /deviceManagement/deviceConfigurations?$select=id,displayName, following @odata.nextLink),
// each page a ReadJob in the tenant's line: it keeps the tenant's budget, and a page Graph
// throttles waits for the pause and is read again, without counting as a failure. page, if not
// nil, is called after each page with the number of configurations read so far. It blocks until
// the last page is read, a page fails (the *Error of that page) or ctx ends.
//
// The pages are untrusted input: a next link that leads back to a page already read, a list of
// more than maxListPages pages or maxListItems configurations, or one that takes longer than
// Options.ListTimeout to read, ends with an error instead of running on.
func (c *client) List(ctx context.Context, page func(read int)) ([]Configuration, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, c.listTimeout, errListTooSlow)
	defer cancel()
	next := c.base + "?$select=id,displayName"
	key := "list/" + strconv.FormatUint(listSeq.Add(1), 10)
	seen := map[string]bool{}
	var all []Configuration
	for n := 1; next != ""; n++ {
		if n > maxListPages {
			return nil, &Error{Err: fmt.Errorf("%w: the list goes on past %d pages", errMalformedList, maxListPages)}
		}
		seen[next] = true
		p, err := c.listPage(ctx, key+"/"+strconv.Itoa(n), next)
		if err != nil {
			if errors.Is(context.Cause(ctx), errListTooSlow) {
				return nil, &Error{Err: fmt.Errorf("%w (%s) after %d pages", errListTooSlow, c.listTimeout, n-1)}
			}
			return nil, err
		}
		all = append(all, p.Value...)
		if len(all) > maxListItems {
			return nil, &Error{Err: fmt.Errorf("%w: the list holds more than %d configurations", errMalformedList, maxListItems)}
		}
		if page != nil {
			page(len(all))
		}
		if next, err = c.checkNextLink(p.NextLink); err != nil {
			return nil, err
		}
		if seen[next] {
			return nil, &Error{Err: fmt.Errorf("%w: @odata.nextLink of page %d leads back to a page already read", errMalformedList, n)}
		}
	}
	return all, nil
}

// The bounds of a list: Graph serves device configurations a hundred or more to a page, and a
// tenant holds hundreds of them, a few thousand at most.
const (
	maxListPages = 1000
	maxListItems = 100_000
)

// errListTooSlow is the cause of a list that took longer than Options.ListTimeout to read.
var errListTooSlow = errors.New("the list of device configurations was not read in time")

// listPage reads one page as a ReadJob of the tenant's pacer, which runs it again while Graph
// throttles it, and waits for it.
func (c *client) listPage(ctx context.Context, key, pageURL string) (configurationPage, error) {
	type result struct {
		page configurationPage
		err  error
	}
	done := make(chan result, 1)
	var page configurationPage
	c.Line().Submit(key, ReadJob, Job{
		Run: func(jctx context.Context, calls Calls) error {
			if ctx.Err() != nil {
				return &Error{Err: ctx.Err()}
			}
			// The pacer binds a job's calls to the client that submitted it, booked on the job's ticket.
			p, err := calls.(*client).getPage(jctx, pageURL)
			page = p
			return err
		},
		Done: func(err error) { done <- result{page: page, err: err} },
	})
	select {
	case r := <-done:
		return r.page, r.err
	case <-ctx.Done():
		c.Line().Withdraw(key)
		return configurationPage{}, &Error{Err: ctx.Err()}
	}
}

// getPage sends the GET of one page.
func (c *client) getPage(ctx context.Context, pageURL string) (configurationPage, error) {
	resp, err := c.do(ctx, http.MethodGet, pageURL, nil)
	if err != nil {
		return configurationPage{}, asError(err)
	}
	body, err := runtime.Payload(resp)
	requestID := clean(resp.Header.Get(headerRequestID))
	if err != nil {
		return configurationPage{}, &Error{StatusCode: resp.StatusCode, RequestID: requestID, Err: err}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return configurationPage{}, newResponseError(resp, body, c.pacer.Now())
	}
	if err := checkJSONLabel(resp, errMalformedList); err != nil {
		return configurationPage{}, answerError(resp, err)
	}
	p, err := decodePage(body)
	if err != nil {
		return configurationPage{}, answerError(resp, err)
	}
	return p, nil
}

// decodePage decodes a page of the list and holds it to what the export writes: valid UTF-8,
// configuration ids that are ids.
func decodePage(body []byte) (configurationPage, error) {
	var p configurationPage
	trimmed := bytes.TrimSpace(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")))
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return p, fmt.Errorf("%w: not a JSON object", errMalformedList)
	}
	if !utf8.Valid(trimmed) {
		return p, fmt.Errorf("%w: it is not valid UTF-8", errMalformedList)
	}
	if err := json.Unmarshal(trimmed, &p); err != nil {
		return configurationPage{}, fmt.Errorf("%w: %s", errMalformedList, describeJSONError(err))
	}
	for _, cfg := range p.Value {
		if !validConfigurationID(cfg.ID) {
			return configurationPage{}, fmt.Errorf("%w: the list holds a configuration id %q that is not an id", errMalformedList, clean(cfg.ID))
		}
	}
	return p, nil
}

// checkNextLink accepts a next link only on the Graph endpoint the client calls: the token goes
// with it, and a link elsewhere (a hostile or broken answer) must not take it there.
func (c *client) checkNextLink(link string) (string, error) {
	if link == "" {
		return "", nil
	}
	u, err := url.Parse(link)
	base, berr := url.Parse(c.base)
	if err != nil || berr != nil || u.Scheme != base.Scheme || u.Host != base.Host {
		return "", &Error{Err: fmt.Errorf("%w: @odata.nextLink %q is not on the Graph endpoint %s", errMalformedList, link, base.Host)}
	}
	return link, nil
}
