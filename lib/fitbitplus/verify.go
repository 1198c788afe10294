package fitbitplus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/fitbitplus/connector/lib/component"
)

// VerifyCredentials checks the credential of cfg for real: it obtains a token
// and reads GET /oauth/token/{id}/organization, returning the organization's
// name. A token limited to groups, which may not read its organization
// (403/404), is verified through /oauth/token/{id}/groups instead and yields
// an empty name. A refused credential is a *CredentialError saying why; a
// transient failure satisfies IsTransient.
func (c *Clients) VerifyCredentials(ctx context.Context, cfg component.Config) (string, error) {
	cred, err := c.Credential(cfg)
	if err != nil {
		return "", err
	}
	src := c.source(cred)
	tok, err := src.token(ctx)
	if err != nil {
		return "", err
	}
	id := TokenID(tok)
	if id == "" {
		return "", &CredentialError{Field: FieldServer, ClientID: cred.ClientID, BaseURL: cred.BaseURL,
			Reason: "the token endpoint's answer has no token id"}
	}
	client := c.clientFor(src)
	prefix := cred.BaseURL + "/oauth/token/" + url.PathEscape(id)

	var org struct {
		Data struct {
			Attributes struct {
				Name string `json:"name"`
			} `json:"attributes"`
		} `json:"data"`
	}
	err = getJSON(ctx, client, prefix+"/organization", &org)
	var apiErr *APIError
	switch {
	case err == nil:
		return org.Data.Attributes.Name, nil
	case errors.As(err, &apiErr) && (apiErr.Status == http.StatusForbidden || apiErr.Status == http.StatusNotFound):
		var groups struct {
			Data []json.RawMessage `json:"data"`
		}
		if err := getJSON(ctx, client, prefix+"/groups", &groups); err != nil {
			return "", verifyError(cred, err)
		}
		return "", nil
	default:
		return "", verifyError(cred, err)
	}
}

func verifyError(cred Credential, err error) error {
	var apiErr *APIError
	if errors.As(err, &apiErr) && (apiErr.Status == http.StatusUnauthorized || apiErr.Status == http.StatusForbidden) {
		ce := credentialErrorFrom(cred, apiErr)
		ce.Reason = "the API refused the token of client id " + cred.ClientID
		return ce
	}
	return err
}

func getJSON(ctx context.Context, client *apiClient, u string, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("verify credential: %w", err)
	}
	req.Header.Set("Accept", MediaType)
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("verify credential: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return readAPIError(resp)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("verify credential: read answer: %w", err)
	}
	if err := json.Unmarshal(raw, into); err != nil {
		return fmt.Errorf("verify credential: answer is not JSON: %w", err)
	}
	return nil
}
