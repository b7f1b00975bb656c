"""WeCom (企业微信): the encrypted callback, the API client, media downloads and the transport."""
