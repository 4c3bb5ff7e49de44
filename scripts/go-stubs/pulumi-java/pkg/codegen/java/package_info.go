// Package java stands in for the Java code generator, whose module the Go proxy here does not serve.
// The provider only uses this type to describe its Java SDK in the schema.
package java

// PackageInfo is the "java" language section of a package schema.
type PackageInfo struct {
	BuildFiles                      string            `json:"buildFiles,omitempty"`
	GradleNexusPublishPluginVersion string            `json:"gradleNexusPublishPluginVersion,omitempty"`
	Dependencies                    map[string]string `json:"dependencies,omitempty"`
}
