package sim

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// OpenAPI is the PRISME contract this simulator implements, byte for byte the file
// published in contracts/prisme/openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte

// schemaDocURL is where the extracted component schemas are registered with the
// compiler; the contract's references (#/components/schemas/X) resolve inside it.
const schemaDocURL = "urn:prisme:openapi"

// contractSchemas holds the compiled component schemas the simulator validates with.
type contractSchemas struct {
	byKind map[Kind]*jsonschema.Schema
	event  *jsonschema.Schema
}

// compileContract compiles the schemas PRISME validates with.
func compileContract(spec []byte) (*contractSchemas, error) {
	compile, err := componentCompiler(spec)
	if err != nil {
		return nil, err
	}
	cs := &contractSchemas{byKind: make(map[Kind]*jsonschema.Schema, len(kinds))}
	for _, k := range kinds {
		sch, err := compile(k.schemaName())
		if err != nil {
			return nil, err
		}
		cs.byKind[k] = sch
	}
	if cs.event, err = compile("EvenementSortant"); err != nil {
		return nil, err
	}
	return cs, nil
}

// componentCompiler extracts components.schemas from the OpenAPI document and returns
// a function compiling one of them by name. OpenAPI 3.1 schemas are JSON Schema
// 2020-12; format assertion is on, so a date such as 2024-02-31 is refused.
func componentCompiler(spec []byte) (func(name string) (*jsonschema.Schema, error), error) {
	var doc struct {
		Components struct {
			Schemas map[string]any `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(spec, &doc); err != nil {
		return nil, fmt.Errorf("prisme sim: read openapi: %w", err)
	}
	if len(doc.Components.Schemas) == 0 {
		return nil, fmt.Errorf("prisme sim: openapi has no components.schemas")
	}
	// Round-trip through JSON so that the compiler sees JSON values (json.Number),
	// keeping the path components/schemas so that the contract's $refs resolve.
	raw, err := json.Marshal(map[string]any{
		"$schema":    "https://json-schema.org/draft/2020-12/schema",
		"components": map[string]any{"schemas": doc.Components.Schemas},
	})
	if err != nil {
		return nil, fmt.Errorf("prisme sim: convert openapi schemas to JSON: %w", err)
	}
	value, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("prisme sim: decode openapi schemas: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(schemaDocURL, value); err != nil {
		return nil, fmt.Errorf("prisme sim: add openapi schemas: %w", err)
	}
	return func(name string) (*jsonschema.Schema, error) {
		sch, err := c.Compile(schemaDocURL + "#/components/schemas/" + name)
		if err != nil {
			return nil, fmt.Errorf("prisme sim: compile schema %s: %w", name, err)
		}
		return sch, nil
	}, nil
}
