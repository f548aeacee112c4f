// Checks shared by many requests of the shop collection.
//
// Every file in scripts/postman/ is a list of top-level functions. A request's script is a few
// calls (the scenario table in scenarios.py says which), followed by the definitions of the
// functions it calls, copied by scripts/build_postman.py: each request carries what it needs,
// so it runs alone in Postman. ESLint (.ci/eslint.config.mjs) checks these files, with Postman's
// `pm` and every function defined here known as globals.

// The response has this status code.
function expectStatus(code) {
    pm.test(`status is ${code}`, () => pm.response.to.have.status(code));
}

// An error answer is an RFC 9457 problem: application/problem+json with our members, the status
// repeated in the body, and this `code` when one is given.
function expectProblem(code) {
    pm.test("error is application/problem+json", () => {
        pm.expect(pm.response.headers.get("Content-Type")).to.include("application/problem+json");
        const body = pm.response.json();
        ["type", "title", "status", "detail", "code"].forEach(k => pm.expect(body).to.have.property(k));
        pm.expect(body.status).to.eql(pm.response.code);
    });
    if (code) {
        pm.test(`code ${code}`, () => pm.expect(pm.response.json().code).to.eql(code));
    }
}

// Keep one value of the JSON body for later requests: `path` is dotted ("data.items.0.id");
// an object is kept as JSON text, to go back into a request body as it is.
function saveFromBody(variable, path) {
    pm.test(`${path} kept as ${variable}`, () => {
        const value = path.split(".").reduce((node, key) => node?.[key], pm.response.json());
        pm.expect(value, path).to.not.equal(undefined);
        pm.collectionVariables.set(variable, typeof value === "object" ? JSON.stringify(value) : value);
    });
}

function expectJson() {
    pm.test("body is JSON", () => pm.response.to.be.json);
}

function expectRequestId() {
    pm.test("response carries X-Request-ID", () => pm.expect(pm.response.headers.get("X-Request-ID")).to.be.a("string"));
}

// A page of a list: `data` and `meta`, whose numbers agree with each other.
function expectListEnvelope() {
    pm.test("list envelope with pagination maths", () => {
        const body = pm.response.json();
        pm.expect(body.data).to.be.an("array");
        const m = body.meta;
        pm.expect(m).to.have.all.keys("page", "pageSize", "totalItems", "totalPages");
        pm.expect(m.totalPages).to.eql(Math.ceil(m.totalItems / m.pageSize));
        pm.expect(body.data.length).to.be.at.most(m.pageSize);
        if (m.page < m.totalPages) pm.expect(body.data.length).to.eql(m.pageSize);
    });
}

// A cart: its members, and totals that add up from its lines.
function expectCartShape() {
    pm.test("cart shape", () => {
        const c = pm.response.json().data;
        ["id", "items", "totalQuantity", "subtotal", "holdExpiresAt", "warnings", "updatedAt"]
            .forEach(k => pm.expect(c).to.have.property(k));
        const sum = c.items.reduce((n, i) => n + i.quantity, 0);
        pm.expect(c.totalQuantity).to.eql(sum);
        const subtotal = c.items.reduce((n, i) => n + parseFloat(i.lineTotal.amount), 0);
        if (c.items.length) pm.expect(parseFloat(c.subtotal.amount)).to.be.closeTo(subtotal, 0.001);
    });
}
