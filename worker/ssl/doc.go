// Package ssl is HTTPS on the worker's event loop.
package ssl
