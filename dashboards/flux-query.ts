// The foundation SDK ships no InfluxDB query builder; this is the small one the dashboards need.
import type * as cog from "@grafana/grafana-foundation-sdk/cog";
import type * as common from "@grafana/grafana-foundation-sdk/common";

export interface FluxQuery extends cog.Dataquery {
  refId: string;
  query: string;
  datasource?: common.DataSourceRef;
}

export class FluxQueryBuilder implements cog.Builder<cog.Dataquery> {
  private readonly internal: FluxQuery;

  constructor(refId: string, query: string) {
    this.internal = { refId, query, _implementsDataqueryVariant() {} };
  }

  datasource(ref: common.DataSourceRef): this {
    this.internal.datasource = ref;
    return this;
  }

  build(): FluxQuery {
    return this.internal;
  }
}

/** Identifiers are validated (A-Z a-z 0-9 _ . -) before they reach here; quoting still escapes. */
export function fluxString(value: string): string {
  return JSON.stringify(value);
}
