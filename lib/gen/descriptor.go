package gen

import (
	"net/url"
	"slices"
	"strings"

	"github.com/fitbitplus/connector/lib/manifest"
	"github.com/fitbitplus/connector/lib/spec"
)

// Names the runtime relies on: credential fields and environment variables.
const (
	ServerField       = "server"       // select of the spec's base URLs plus CustomServer
	OtherServerField  = "otherServer"  // the base URL used when ServerField is CustomServer
	ClientIDField     = "clientId"     // overrides EnvClientID
	ClientSecretField = "clientSecret" // overrides EnvClientSecret
	CustomServer      = "--- Custom URL"
	EnvClientID       = "OAUTH_CLIENT_ID"
	EnvClientSecret   = "OAUTH_CLIENT_SECRET"
)

// descriptor builds component.json (without the overlay).
func descriptor(doc *spec.Doc, actions []*action, opts Options) *manifest.Component {
	c := &manifest.Component{
		Title:       firstNonEmpty(opts.Title, doc.Title),
		Description: firstNonEmpty(opts.Description, firstParagraph(doc.Description)),
		DocsURL:     opts.DocsURL,
		Version:     firstNonEmpty(opts.Version, doc.Version),
		BuildType:   "docker",
		Credentials: credentials(doc),
		Actions:     make(map[string]*manifest.Function, len(actions)),
	}
	c.Description = firstNonEmpty(c.Description, c.Title)
	if doc.OAuth2 {
		c.EnvVars = map[string]*manifest.EnvVar{
			EnvClientID: {
				Description: "Default OAuth2 client id of the deployment, used when a credential leaves Client ID empty.",
			},
			EnvClientSecret: {
				Description: "Default OAuth2 client secret of the deployment, used when a credential leaves Client Secret empty.",
			},
		}
	}
	for _, a := range actions {
		c.Actions[a.op.ID] = &manifest.Function{
			Main:        "./" + a.file,
			Title:       firstNonEmpty(oneLine(a.op.Summary), a.op.ID),
			Description: cleanText(a.op.Description),
			Deprecated:  a.op.Deprecated,
			Fields:      pagingFields(a.op),
			Metadata:    &manifest.Metadata{In: a.in, Out: a.out},
		}
	}
	return c
}

// Step fields of paged list actions; lib/rest reads them (rest.FieldFetchAll
// and its siblings; a test in actions/ keeps the names in step).
const (
	FetchAllField = "fetchAll"
	MaxItemsField = "maxItems"
	MaxPagesField = "maxPages"
	SplitField    = "split"
)

// pagingFields offers, on a paged list, to fetch every page and to emit one
// message per resource. Nothing is pre-filled: without fetchAll the action
// makes exactly the request its input describes.
func pagingFields(op *spec.Operation) map[string]*manifest.Field {
	if len(paging(op.Params)) == 0 {
		return nil
	}
	return map[string]*manifest.Field{
		FetchAllField: {
			Label: "Fetch all pages", ViewClass: "CheckBoxView", Order: 40,
			Note: "Follow the links to every next page (cursor paging unless the input uses page.number/page.size) and check the count against meta.count.",
		},
		MaxItemsField: {
			Label: "Maximum resources", ViewClass: "TextFieldView", Order: 30, Placeholder: "10000",
			Note: "With Fetch all pages: stop after this many resources (default 10000).",
		},
		MaxPagesField: {
			Label: "Maximum pages", ViewClass: "TextFieldView", Order: 20, Placeholder: "200",
			Note: "With Fetch all pages: stop after this many pages (default 200).",
		},
		SplitField: {
			Label: "Emit one message per resource", ViewClass: "CheckBoxView", Order: 10,
			Note: "Each resource becomes its own message (a single-resource document with the included resources it references) instead of one message per page.",
		},
	}
}

// credentials asks for the API base URL, named as in the 2019 connector so
// that stored credentials carry over, and, when the API uses OAuth2, for an
// optional client id and secret that override the deployment's.
func credentials(doc *spec.Doc) *manifest.Credentials {
	example := "http://127.0.0.1:8080"
	if len(doc.Servers) > 0 {
		if u, err := url.Parse(doc.Servers[0]); err == nil {
			example += strings.TrimSuffix(u.Path, "/")
		}
	}
	fields := map[string]*manifest.Field{
		ServerField: {
			Label:     "Server",
			ViewClass: "SelectView",
			Required:  true,
			Prompt:    "Select the API server",
			Model:     append(slices.Clone(doc.Servers), CustomServer),
			Note:      "Choose " + CustomServer + " to use the Custom Server URL below.",
			Order:     40,
		},
		OtherServerField: {
			Label:       "Custom Server URL",
			ViewClass:   "TextFieldView",
			Placeholder: example,
			Note:        "Used when Server is " + CustomServer + ", e.g. a local sandbox such as " + example + ".",
			Order:       30,
		},
	}
	if doc.OAuth2 {
		fields[ClientIDField] = &manifest.Field{
			Label:     "Client ID",
			ViewClass: "TextFieldView",
			Note:      "Optional. Overrides the deployment's " + EnvClientID + ", so that one deployment can serve several organisations.",
			Order:     20,
		}
		fields[ClientSecretField] = &manifest.Field{
			Label:     "Client Secret",
			ViewClass: "PasswordFieldView",
			Note:      "Optional. Overrides the deployment's " + EnvClientSecret + "; needed when Client ID is set.",
			Order:     10,
		}
	}
	return &manifest.Credentials{Fields: fields}
}

// firstParagraph is the text up to the first blank line, on one line.
func firstParagraph(s string) string {
	s = strings.ReplaceAll(cleanText(s), "\r\n", "\n")
	if i := strings.Index(s, "\n\n"); i >= 0 {
		s = s[:i]
	}
	return strings.Join(strings.Fields(s), " ")
}
