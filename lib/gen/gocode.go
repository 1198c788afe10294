package gen

import (
	"bytes"
	"embed"
	"fmt"
	"go/format"
	"strconv"
	"strings"
	"text/template"

	"github.com/fitbitplus/connector/lib/rest"
	"github.com/fitbitplus/connector/lib/spec"
)

// Import paths the generated code uses.
const (
	RestImport      = "github.com/fitbitplus/connector/lib/rest"
	ComponentImport = "github.com/fitbitplus/connector/lib/component"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"quote":   strconv.Quote,
	"float":   func(f *float64) string { return strconv.FormatFloat(*f, 'g', -1, 64) },
	"strings": goStrings,
}).ParseFS(templateFS, "templates/*.tmpl"))

func goStrings(list []string) string {
	quoted := make([]string, len(list))
	for i, s := range list {
		quoted[i] = strconv.Quote(s)
	}
	return "[]string{" + strings.Join(quoted, ", ") + "}"
}

// operationView is what operation.go.tmpl renders.
type operationView struct {
	Spec       string
	RestImport string
	GoName     string
	Summary    string
	*rest.Operation
}

func renderOperation(a *action, op *rest.Operation, specName string) ([]byte, error) {
	return render("operation.go.tmpl", operationView{
		Spec:       specName,
		RestImport: RestImport,
		GoName:     a.goName,
		Summary:    sentence(oneLine(a.op.Summary)),
		Operation:  op,
	})
}

func renderRegistry(actions []*action, specName string) ([]byte, error) {
	type entry struct{ ID, GoName string }
	view := struct {
		Spec, ComponentImport string
		Actions               []entry
	}{Spec: specName, ComponentImport: ComponentImport}
	for _, a := range actions { // sorted by id
		view.Actions = append(view.Actions, entry{a.op.ID, a.goName})
	}
	return render("registry.go.tmpl", view)
}

func render(name string, data any) ([]byte, error) {
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, name, data); err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	src, err := format.Source(buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("format %s: %w", name, err)
	}
	return src, nil
}

// restOperation is the static facts of an action as the runtime reads them.
func restOperation(a *action) *rest.Operation {
	op := a.op
	r := &rest.Operation{
		ID:     op.ID,
		Method: op.Method,
		Path:   op.Path,
		// The effective security: the operation's, else the document's.
		Secured: op.Secured,
		Paging:  paging(op.Params),
	}
	for _, p := range a.params {
		r.Params = append(r.Params, restParam(p))
	}
	if op.Body != nil {
		r.Body = &rest.Body{Field: BodyField, Required: op.Body.Required, MediaTypes: op.Body.MediaTypes, IDParam: dataIDParam(op)}
	}
	if resp := op.Response; resp != nil {
		r.SuccessCode = resp.Code
		if len(resp.MediaTypes) > 0 {
			r.Produces = resp.MediaTypes[0]
		}
	}
	return r
}

func restParam(p param) rest.Param {
	r := rest.Param{
		Name:     p.Name,
		Field:    p.field,
		In:       p.In,
		Required: p.Required,
		Type:     p.Type(),
		Items:    p.ItemsType(),
	}
	s := p.Schema.Value
	if r.Type == "array" {
		r.Format = p.Collection
		if s.Items != nil && s.Items.Value != nil {
			s = s.Items.Value
		}
	} else {
		r.Format = s.Format
	}
	for _, v := range s.Enum {
		r.Enum = append(r.Enum, fmt.Sprint(v))
	}
	r.Minimum, r.Maximum = s.Min, s.Max
	return r
}

// paging lists the paging styles an operation's parameters allow: "cursor"
// for page[limit] with page[cursor], "skip" for page[number] with page[size].
func paging(params []*spec.Param) []string {
	has := map[string]bool{}
	for _, p := range params {
		if p.In == "query" {
			has[p.Name] = true
		}
	}
	var styles []string
	if has["page[limit]"] && has["page[cursor]"] {
		styles = append(styles, "cursor")
	}
	if has["page[number]"] && has["page[size]"] {
		styles = append(styles, "skip")
	}
	return styles
}

// sentence ends s with a period unless it ends with punctuation.
func sentence(s string) string {
	if s == "" || strings.ContainsAny(s[len(s)-1:], ".!?") {
		return s
	}
	return s + "."
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(cleanText(s)), " ")
}
