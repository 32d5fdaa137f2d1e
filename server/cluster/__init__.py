"""Several server nodes sharing the live sessions: the node registry in Redis, placement of a
session on a node with room, requests proxied to the node holding a session, live status
published on Redis, and the sessions of a lost node taken over. On only with REDIS_URL."""
