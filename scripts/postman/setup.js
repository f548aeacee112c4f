// Setup: every folder runs alone (`newman run … --folder NAME`) as well as in order, so each one
// begins with requests that find or create what it needs instead of relying on ids another
// folder left in the collection variables. Pre-request scripts run before their request is
// sent; Postman waits for the calls they make.

// Walk the events with seats left until one has a ticket type on sale with at least two seats
// and maxPerOrder >= 2; keep its ids in eventId and ticketTypeId.
function findBuyableTicketType() {
    const base = pm.variables.replaceIn("{{baseUrl}}");
    pm.sendRequest(`${base}/api/events?available=true&pageSize=50`, (error, response) => {
        if (error) throw error;
        const ids = response.json().data.map(e => e.id);
        const tryNext = () => {
            const id = ids.shift();
            if (id === undefined) return; // nothing to buy: the tests of this request fail
            pm.sendRequest(`${base}/api/events/${id}`, (error2, detail) => {
                if (error2) throw error2;
                const tier = detail.json().data.ticketTypes.find(
                    t => t.onSale && t.available >= 2 && t.maxPerOrder >= 2);
                if (!tier) return tryNext();
                pm.collectionVariables.set("eventId", id);
                pm.collectionVariables.set("ticketTypeId", tier.id);
            });
        };
        tryNext();
    });
}

function expectBuyableTicketType() {
    pm.test("ticketTypeId is on sale with seats left", () => {
        const e = pm.response.json().data;
        const tier = e.ticketTypes.find(t => t.id === Number(pm.collectionVariables.get("ticketTypeId")));
        pm.expect(tier, "a ticket type to buy").to.be.an("object");
        pm.expect(tier.onSale).to.eql(true);
        pm.expect(tier.available).to.be.at.least(2);
    });
}

// A new email address (and a password) for each run, so signing up never finds it taken.
function newCustomerCredentials() {
    const unique = `${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
    pm.collectionVariables.set("email", `postman-${unique}@example.com`);
    pm.collectionVariables.set("password", "Postman-Pass-2026");
}

function expectNewCustomer() {
    pm.test("signed in as a new customer", () => {
        const d = pm.response.json().data;
        pm.expect(d.user.role).to.eql("customer");
        pm.expect(d.user.email).to.eql(pm.collectionVariables.get("email"));
    });
}
