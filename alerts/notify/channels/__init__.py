"""One module per channel; each turns a send (one or more notices) into one request."""
