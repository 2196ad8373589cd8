package client

import (
	"context"

	"github.com/prodex/prodex/internal/api"
	"github.com/prodex/prodex/internal/auth"
)

// CreateKey makes a team key in an environment ("" for the default one).
func (c *Client) CreateKey(ctx context.Context, env string, scope auth.Scope, name string) (api.NewKey, error) {
	var k api.NewKey
	body := map[string]string{"scope": string(scope), "name": name, "environment": env}
	return k, c.call(ctx, "POST", "/api/v1/keys", body, &k)
}

// Keys lists the keys, never their secrets.
func (c *Client) Keys(ctx context.Context) ([]auth.Key, error) {
	var keys []auth.Key
	return keys, c.call(ctx, "GET", "/api/v1/keys", nil, &keys)
}

// RevokeKey revokes a key.
func (c *Client) RevokeKey(ctx context.Context, id string) error {
	return c.call(ctx, "DELETE", "/api/v1/keys/"+esc(id), nil, nil)
}

// Users lists the people.
func (c *Client) Users(ctx context.Context) ([]auth.User, error) {
	var users []auth.User
	return users, c.call(ctx, "GET", "/api/v1/users", nil, &users)
}

// SetUser creates or changes the user ch names: the fields ch carries
// change, the others keep their values.
func (c *Client) SetUser(ctx context.Context, ch auth.UserChange) (auth.User, error) {
	name := ch.Name
	ch.Name = "" // the path names the user
	var out auth.User
	return out, c.call(ctx, "PUT", "/api/v1/users/"+esc(name), ch, &out)
}

// DeleteUser deletes a user and revokes their keys.
func (c *Client) DeleteUser(ctx context.Context, name string) error {
	return c.call(ctx, "DELETE", "/api/v1/users/"+esc(name), nil, nil)
}

// CreateUserKey makes a personal key for a user, following their role.
func (c *Client) CreateUserKey(ctx context.Context, user, name string) (api.NewKey, error) {
	var k api.NewKey
	return k, c.call(ctx, "POST", "/api/v1/users/"+esc(user)+"/keys", map[string]string{"name": name}, &k)
}

// Environments lists the environments besides the default one.
func (c *Client) Environments(ctx context.Context) ([]string, error) {
	var names []string
	return names, c.call(ctx, "GET", "/api/v1/environments", nil, &names)
}

// CreateEnvironment creates an environment.
func (c *Client) CreateEnvironment(ctx context.Context, name string) error {
	return c.call(ctx, "POST", "/api/v1/environments", map[string]string{"name": name}, nil)
}
