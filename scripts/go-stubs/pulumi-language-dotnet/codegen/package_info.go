// Package codegen stands in for the .NET code generator, whose module the Go proxy here does not serve.
// The provider only uses this type to describe its .NET SDK in the schema.
package codegen

// CSharpPackageInfo is the "csharp" language section of a package schema.
type CSharpPackageInfo struct {
	RespectSchemaVersion bool              `json:"respectSchemaVersion,omitempty"`
	PackageReferences    map[string]string `json:"packageReferences,omitempty"`
}
