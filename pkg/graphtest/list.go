package graphtest

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// DefaultPageSize is how many device configurations a page of the list holds when Options.PageSize
// is zero. Graph does not document Intune's page size for this list (a client must follow
// @odata.nextLink whatever it is); 25 is small enough that a tenant of a few hundred
// configurations spans several pages, so that a client's paging is exercised.
const DefaultPageSize = 25

// listQuery is what the query options of a list request ask for.
type listQuery struct {
	sel      selection
	pageSize int    // the page size: $top when given and smaller than the server's
	top      string // $top as given, repeated in @odata.nextLink; "" when not given
	after    string // the lower-case id the page starts after; "" for the first page
}

// serveList answers GET /{v1.0|beta}/deviceManagement/deviceConfigurations: the configurations
// of the token's tenant, in the order of their ids, a page at a time. @odata.nextLink carries an
// opaque $skiptoken naming the last id served, so that configurations seeded while a client pages
// do not make it see one twice or skip one that was there before it started.
func (s *Server) serveList(w http.ResponseWriter, r *http.Request, route graphRoute, claims *accessClaims) int {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		return writeGraphError(w, http.StatusMethodNotAllowed, "", "The HTTP method '"+r.Method+"' is not allowed on deviceConfigurations by the emulator.")
	}
	if !claims.hasRole(PermissionRead, PermissionReadWrite) {
		return forbiddenRead(w)
	}
	q, err := parseListQuery(r.URL.Query(), s.pageSize())
	if err != nil {
		return writeGraphError(w, http.StatusBadRequest, "BadRequest", err.Error())
	}
	page, more := s.listPage(claims.TenantID, q.after, q.pageSize)

	base := "https://" + r.Host + "/" + route.apiVersion
	annotations := []property{{"@odata.context", base + "/$metadata#deviceManagement/deviceConfigurations" + q.sel.contextSuffix()}}
	if more {
		annotations = append(annotations, property{"@odata.nextLink", base + "/deviceManagement/deviceConfigurations?" + q.next(page[len(page)-1].id)})
	}
	items := make([]json.RawMessage, len(page))
	for i, c := range page {
		items[i] = marshalObject([]property{{"@odata.type", c.props.ODataType}}, c.properties(), q.sel)
	}
	return writeEntity(w, marshalObject(annotations, []property{{"value", items}}, nil))
}

func (s *Server) pageSize() int {
	if s.opts.PageSize > 0 {
		return s.opts.PageSize
	}
	return DefaultPageSize
}

// listPage returns copies of up to n configurations of a tenant whose lower-case ids sort after
// after, in that order, and whether more follow.
func (s *Server) listPage(tenantID, after string, n int) (page []deviceConfiguration, more bool) {
	tenantID = strings.ToLower(tenantID)
	s.mu.Lock()
	for key, c := range s.configurations {
		if key.tenantID == tenantID && key.configurationID > after {
			page = append(page, *c)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(page, func(a, b deviceConfiguration) int {
		return cmp.Compare(strings.ToLower(a.id), strings.ToLower(b.id))
	})
	if len(page) > n {
		return page[:n], n > 0
	}
	return page, false
}

// parseListQuery reads $select, $top and $skiptoken. Graph takes $top as the page size. Other
// OData query options ($filter, $orderby, $count, ...) are refused rather than ignored, so that a
// test that relies on one learns that the emulator does not model it.
func parseListQuery(query url.Values, serverPageSize int) (listQuery, error) {
	q := listQuery{pageSize: serverPageSize}
	for name, values := range query {
		switch name {
		case "$select", "$top", "$skiptoken":
			if len(values) > 1 {
				return q, refuse("Query option '%s' was specified more than once, but it must be specified at most once.", name)
			}
		default:
			if strings.HasPrefix(name, "$") {
				return q, refuse("The query option '%s' is not supported by the emulator on deviceConfigurations; it serves $select, $top and $skiptoken.", name)
			}
		}
	}
	sel, err := parseSelect(query, configurationType, configurationProperties)
	if err != nil {
		return q, err
	}
	q.sel = sel
	if top, ok := query["$top"]; ok {
		n, err := strconv.Atoi(top[0])
		if err != nil || n < 0 {
			return q, refuse("Invalid value '%s' for $top query option found. The $top query option requires a non-negative integer value.", top[0])
		}
		q.top, q.pageSize = top[0], min(n, serverPageSize)
	}
	if token, ok := query["$skiptoken"]; ok {
		after, err := base64.RawURLEncoding.DecodeString(token[0])
		if err != nil || len(after) == 0 {
			return q, refuse("The $skiptoken '%s' is not valid.", token[0])
		}
		q.after = strings.ToLower(string(after))
	}
	return q, nil
}

// next is the query of the page after the one that ended with lastID: the same $select and $top,
// and a $skiptoken that encodes the last id. The selection holds only property names, which need
// no escaping, so that the link reads like Graph's.
func (q listQuery) next(lastID string) string {
	var parts []string
	if q.sel != nil {
		parts = append(parts, "$select="+strings.Join(q.sel, ","))
	}
	if q.top != "" {
		parts = append(parts, "$top="+q.top)
	}
	parts = append(parts, "$skiptoken="+base64.RawURLEncoding.EncodeToString([]byte(strings.ToLower(lastID))))
	return strings.Join(parts, "&")
}
