// Package byok holds byokd's domain types: services, secrets, money, usage
// events, preferences and policies. It imports only the standard library;
// every other package of the module exchanges these types instead of each
// other's.
package byok
