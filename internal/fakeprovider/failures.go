package fakeprovider

import "net/http"

// Failure replaces the normal answer to one request (see Server.FailNext).
// With Status set, the reply is Status, Header and Body. With Status zero
// the normal reply is sent. Either way, AfterBytes > 0 cuts the connection
// after that many bytes of the body, as a reset mid-stream does.
type Failure struct {
	Status     int
	Body       string
	Header     http.Header
	AfterBytes int
}

// CutAfter is a failure that sends the normal reply but drops the
// connection after n bytes of its body.
func CutAfter(n int) Failure { return Failure{AfterBytes: n} }

// The failures below carry the providers' real error bodies and headers.
// Messages that the real APIs fill with account details use fixed
// placeholders; none echoes the key that was sent.

// OpenAIInsufficientQuota is OpenAI's 429 for an account out of credit:
// retrying does not help.
func OpenAIInsufficientQuota() Failure {
	return Failure{
		Status: http.StatusTooManyRequests,
		Header: openaiErrorHeader(),
		Body: `{"error":{"message":"You exceeded your current quota, please check your plan and billing details. ` +
			`For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",` +
			`"type":"insufficient_quota","param":null,"code":"insufficient_quota"}}`,
	}
}

// OpenAIRateLimited is OpenAI's 429 for a rate limit, with the retry-after
// and x-ratelimit headers the real API sends.
func OpenAIRateLimited() Failure {
	h := openaiErrorHeader()
	h.Set("Retry-After", "20")
	h.Set("X-Ratelimit-Limit-Requests", "3")
	h.Set("X-Ratelimit-Remaining-Requests", "0")
	h.Set("X-Ratelimit-Reset-Requests", "20s")
	h.Set("X-Ratelimit-Limit-Tokens", "40000")
	h.Set("X-Ratelimit-Remaining-Tokens", "39980")
	h.Set("X-Ratelimit-Reset-Tokens", "30ms")
	return Failure{
		Status: http.StatusTooManyRequests,
		Header: h,
		Body: `{"error":{"message":"Rate limit reached for gpt-4o-mini in organization org-fakeprovider on requests per min (RPM): ` +
			`Limit 3, Used 3, Requested 1. Please try again in 20s. Visit https://platform.openai.com/account/rate-limits to learn more.",` +
			`"type":"requests","param":null,"code":"rate_limit_exceeded"}}`,
	}
}

// OpenAIInvalidKey is OpenAI's 401 for a wrong key. The real message shows
// the key's ends; this one shows a fixed placeholder.
func OpenAIInvalidKey() Failure {
	return Failure{
		Status: http.StatusUnauthorized,
		Header: openaiErrorHeader(),
		Body: `{"error":{"message":"Incorrect API key provided: sk-proj-****************************fake. ` +
			`You can find your API key at https://platform.openai.com/account/api-keys.",` +
			`"type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`,
	}
}

// OpenAIServerError is OpenAI's 500.
func OpenAIServerError() Failure {
	return Failure{
		Status: http.StatusInternalServerError,
		Header: openaiErrorHeader(),
		Body: `{"error":{"message":"The server had an error while processing your request. Sorry about that!",` +
			`"type":"server_error","param":null,"code":null}}`,
	}
}

func openaiErrorHeader() http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Request-Id", "req_fakeprovidererror0000000000")
	return h
}

// AnthropicAuthenticationError is Anthropic's 401 for a wrong key.
func AnthropicAuthenticationError() Failure {
	return anthropicFailure(http.StatusUnauthorized, "authentication_error", "invalid x-api-key", nil)
}

// AnthropicBillingError is Anthropic's 402 for a billing problem.
func AnthropicBillingError() Failure {
	return anthropicFailure(http.StatusPaymentRequired, "billing_error",
		"Your account has a billing issue. Please visit Plans & Billing to resolve it.", nil)
}

// AnthropicPermissionError is Anthropic's 403 for a key that may not use
// the resource.
func AnthropicPermissionError() Failure {
	return anthropicFailure(http.StatusForbidden, "permission_error",
		"Your API key does not have permission to use the specified resource.", nil)
}

// AnthropicRateLimited is Anthropic's 429, with retry-after and the
// anthropic-ratelimit headers.
func AnthropicRateLimited() Failure {
	h := http.Header{}
	h.Set("Retry-After", "15")
	h.Set("Anthropic-Ratelimit-Requests-Limit", "50")
	h.Set("Anthropic-Ratelimit-Requests-Remaining", "0")
	h.Set("Anthropic-Ratelimit-Requests-Reset", "2026-01-01T00:00:15Z")
	return anthropicFailure(http.StatusTooManyRequests, "rate_limit_error",
		"This request would exceed the rate limit for your organization of 50 requests per minute. "+
			"For details, refer to: https://docs.anthropic.com/en/api/rate-limits. You can see the response headers "+
			"for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later. "+
			"You may also contact sales at https://www.anthropic.com/contact-sales to discuss your options for a rate limit increase.", h)
}

// AnthropicOverloaded is Anthropic's 529.
func AnthropicOverloaded() Failure {
	return anthropicFailure(529, "overloaded_error", "Overloaded", nil)
}

// AnthropicCreditBalanceTooLow is Anthropic's 400 for an account out of
// credit: an invalid_request_error, not a billing_error.
func AnthropicCreditBalanceTooLow() Failure {
	return anthropicFailure(http.StatusBadRequest, "invalid_request_error",
		"Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.", nil)
}

func anthropicFailure(status int, typ, msg string, h http.Header) Failure {
	if h == nil {
		h = http.Header{}
	}
	h.Set("Content-Type", "application/json")
	h.Set("Request-Id", "req_fakeprovidererror000000000")
	h.Set("X-Should-Retry", map[bool]string{true: "true", false: "false"}[status == 429 || status >= 500])
	return Failure{Status: status, Header: h, Body: string(mustJSON(anthropicErrorBody(typ, msg, "req_fakeprovidererror000000000")))}
}

// ClickUpTokenInvalid is ClickUp's 401 for a wrong token.
func ClickUpTokenInvalid() Failure {
	return clickupFailure(http.StatusUnauthorized, "Token invalid", "OAUTH_025", nil)
}

// ClickUpTokenNotFound is ClickUp's 401 for a token it does not know.
func ClickUpTokenNotFound() Failure {
	return clickupFailure(http.StatusUnauthorized, "Oauth token not found", "OAUTH_019", nil)
}

// ClickUpRateLimited is ClickUp's 429 with its X-RateLimit headers.
func ClickUpRateLimited() Failure {
	h := http.Header{}
	h.Set("X-RateLimit-Limit", "100")
	h.Set("X-RateLimit-Remaining", "0")
	h.Set("X-RateLimit-Reset", "1767225660")
	return clickupFailure(http.StatusTooManyRequests, "Rate limit reached", "APP_002", h)
}

func clickupFailure(status int, msg, code string, h http.Header) Failure {
	if h == nil {
		h = http.Header{}
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	return Failure{Status: status, Header: h, Body: string(mustJSON(clickupErr{Err: msg, ECODE: code}))}
}
